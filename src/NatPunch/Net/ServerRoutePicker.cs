namespace NatPunch.Net;

/// <summary>
/// Finds a way to the server's TCP service and keeps using the one that worked. For <c>HOST[:PORT]</c>
/// (<see cref="ServerScheme.Auto"/>): TLS on that port when the server offers it, else plain TCP; with
/// no port given and 3478 out of reach (blocked, or refused by the proxy), TLS on 443. There TLS is
/// opportunistic (RFC 7435): a certificate that does not verify is reported, and the connection is
/// still encrypted, since the alternative is clear text; unless a certificate is pinned, which is
/// always enforced. <c>tls://</c> verifies (trust store or pin) and never falls back; <c>tcp://</c> is
/// plain TCP. Each fallback is reported once, in words.
/// </summary>
internal sealed class ServerRoutePicker(ServerAddress server, ServerConnectionOptions options, Action<string>? report)
{
    /// <summary>How long the first port gets when 443 is there to fall back to: a blocked port drops SYNs, and waiting the whole connect timeout would double the wait.</summary>
    internal static readonly TimeSpan FallbackAfter = TimeSpan.FromSeconds(3);

    private readonly HashSet<string> _reported = [];
    private volatile ServerRoute? _working;

    /// <summary>The route of the last connection made, or null before one was.</summary>
    public ServerRoute? Working => _working;

    public async Task<ServerStream> ConnectAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        HttpProxy? proxy = options.ProxyFor(server.Host);
        if (_working is { } known)
        {
            try
            {
                return await ServerStreamConnector.ConnectAsync(known, options, timeout, time, cancellationToken).ConfigureAwait(false);
            }
            catch (ServerConnectionException) when (server.Scheme == ServerScheme.Auto)
            {
                // The network may have changed (a different Wi-Fi): look again from the start.
            }
        }
        bool opportunistic = server.Scheme == ServerScheme.Auto;
        var first = new ServerRoute(server.Tcp, server.Scheme != ServerScheme.Tcp, proxy, opportunistic);
        bool mayFallBackTo443 = server.Scheme == ServerScheme.Auto && !server.PortGiven && server.Port != ServerAddress.DefaultTlsPort;
        ServerStream stream;
        try
        {
            stream = await ConnectOrPlainAsync(first, mayFallBackTo443 && FallbackAfter < timeout ? FallbackAfter : timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (ServerConnectionException e) when (mayFallBackTo443 && e.Failure is ServerConnectionFailure.Unreachable or ServerConnectionFailure.ProxyRefused)
        {
            var tls443 = new ServerRoute(new HostAndPort(server.Host, ServerAddress.DefaultTlsPort), Tls: true, proxy, opportunistic);
            Report($"port {server.Port} of {server.Host} cannot be reached ({e.Message}); trying TLS on port {ServerAddress.DefaultTlsPort}");
            stream = await ServerStreamConnector.ConnectAsync(tls443, options, timeout, time, cancellationToken).ConfigureAwait(false);
        }
        _working = stream.Route;
        if (stream.Unverified is { } why)
        {
            Report($"{why}: the connection is encrypted but the server is not authenticated "
                + $"(pin its certificate, or use tls://{server.Host} to require one that verifies)");
        }
        return stream;
    }

    /// <summary>The route as given; in auto mode a server that speaks no TLS there is asked again in plain TCP.</summary>
    private async Task<ServerStream> ConnectOrPlainAsync(ServerRoute route, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            return await ServerStreamConnector.ConnectAsync(route, options, timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (ServerConnectionException e) when (server.Scheme == ServerScheme.Auto && e.Failure == ServerConnectionFailure.NoTls)
        {
            Report($"{server.Tcp} offers no TLS: the rendezvous goes in clear (tls://{server.Tcp} insists on TLS)");
            return await ServerStreamConnector.ConnectAsync(route with { Tls = false }, options, timeout, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Report(string message)
    {
        lock (_reported)
        {
            if (!_reported.Add(message))
            {
                return;
            }
        }
        report?.Invoke(message);
    }
}
