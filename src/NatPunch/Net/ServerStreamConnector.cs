using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NatPunch.Net;

/// <summary>
/// Opens one TCP connection to the server along a <see cref="ServerRoute"/>: directly or through an
/// HTTP proxy (CONNECT), then TLS if the route says so, verified against the system's trust store or
/// a pinned certificate. Every failure is a <see cref="ServerConnectionException"/> saying which step failed.
/// </summary>
internal static class ServerStreamConnector
{
    public static async Task<ServerStream> ConnectAsync(ServerRoute route, ServerConnectionOptions options, TimeSpan timeout, TimeProvider time,
        CancellationToken cancellationToken)
    {
        using var due = new CancellationTokenSource(timeout, time);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, due.Token);
        HostAndPort first = route.Proxy?.Server ?? route.Target;
        string firstName = route.Proxy is null ? $"the server {route.Target}" : $"the proxy {route.Proxy}";
        Socket? socket = null;
        Stream? stream = null;
        try
        {
            IPEndPoint endPoint;
            try
            {
                endPoint = await first.ResolveAsync(cancellationToken: limit.Token).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new ServerConnectionException(ServerConnectionFailure.Unreachable, $"cannot resolve {first.Host}: {e.Message}", e);
            }
            socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(endPoint, limit.Token).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new ServerConnectionException(ServerConnectionFailure.Unreachable, $"cannot connect to {firstName}: {e.Message}", e);
            }
            if (route.Proxy is { } proxy)
            {
                await HttpConnectTunnel.OpenAsync(socket, route.Target, proxy, limit.Token).ConfigureAwait(false);
            }
            stream = new NetworkStream(socket, ownsSocket: false);
            string? unverified = null;
            if (route.Tls)
            {
                (stream, unverified) = await AuthenticateAsync(stream, route, options, limit.Token).ConfigureAwait(false);
            }
            return new ServerStream(socket, stream, route, unverified);
        }
        catch (OperationCanceledException) when (due.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await DisposeAsync(stream, socket).ConfigureAwait(false);
            throw new ServerConnectionException(ServerConnectionFailure.Unreachable, $"{route} timed out after {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is SocketException or IOException && e is not ServerConnectionException)
        {
            await DisposeAsync(stream, socket).ConfigureAwait(false);
            throw new ServerConnectionException(ServerConnectionFailure.Unreachable, $"{route}: {e.Message}", e);
        }
        catch
        {
            await DisposeAsync(stream, socket).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>TLS over <paramref name="inner"/>; also, over an opportunistic route, why the certificate did not verify.</summary>
    private static async Task<(SslStream, string?)> AuthenticateAsync(Stream inner, ServerRoute route, ServerConnectionOptions options, CancellationToken cancellationToken)
    {
        string? rejection = null;
        // A pin is an explicit wish: it is never waived.
        bool opportunistic = route.Opportunistic && options.PinnedCertificateSha256 is null;
        var tls = new SslStream(inner, leaveInnerStreamOpen: false, (_, certificate, chain, errors) =>
        {
            rejection = Verify(certificate, chain, errors, route.Target.Host, options.PinnedCertificateSha256);
            return rejection is null || opportunistic;
        });
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                // An IP address is no host name: .NET then sends no SNI, as RFC 6066 asks.
                TargetHost = route.Target.Host,
                EnabledSslProtocols = SslProtocols.None, // the system's choice: TLS 1.2 and 1.3
            }, cancellationToken).ConfigureAwait(false);
            return (tls, rejection);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            if (rejection is not null && !opportunistic)
            {
                string advice = options.PinnedCertificateSha256 is null ? ". If you trust this server, pin that fingerprint (--server-cert-sha256)" : "";
                throw new ServerConnectionException(ServerConnectionFailure.CertificateRejected, rejection + advice, e);
            }
            throw new ServerConnectionException(ServerConnectionFailure.NoTls,
                $"{route.Target} does not speak TLS on port {route.Target.Port} (the TLS handshake failed: {e.Message})", e);
        }
    }

    /// <summary>Null when the certificate is to be trusted, else why not, in words.</summary>
    private static string? Verify(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, string host, byte[]? pin)
    {
        if (certificate is null)
        {
            return $"{host} presented no TLS certificate";
        }
        byte[] hash = certificate.GetCertHash(HashAlgorithmName.SHA256);
        string fingerprint = Convert.ToHexString(hash);
        if (pin is not null)
        {
            return CryptographicOperations.FixedTimeEquals(hash, pin) ? null
                : $"the TLS certificate of {host} ({certificate.Subject}, SHA-256 {fingerprint}) is not the pinned one ({Convert.ToHexString(pin)})";
        }
        if (errors == SslPolicyErrors.None)
        {
            return null;
        }
        var why = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            why.Add($"it is not for '{host}'");
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            string status = chain is null ? "" : string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
            why.Add($"its chain does not verify ({(status.Length > 0 ? status : "untrusted")})");
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            why.Add("none was sent");
        }
        return $"the TLS certificate of {host} ({certificate.Subject}, SHA-256 {fingerprint}) does not verify: {string.Join("; ", why)}";
    }

    private static async Task DisposeAsync(Stream? stream, Socket? socket)
    {
        if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        socket?.Dispose();
    }
}
