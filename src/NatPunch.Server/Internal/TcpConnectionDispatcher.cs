using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Server.Stun;
using NatPunch.Server.Turn;

namespace NatPunch.Server.Internal;

/// <summary>
/// Tells the protocols on the server's TCP port apart by the first byte a client sends
/// (RFC 7983 style): 0xE0 is rendezvous, anything else is handed to STUN framing
/// (which, with TURN on, also carries TURN and ChannelData). 0x16 begins a TLS handshake: with a
/// certificate, the connection is TLS and the same choice is made on the first bytes inside it, so
/// one port (443, say) serves plain and TLS clients alike.
/// </summary>
internal sealed class TcpConnectionDispatcher
{
    private readonly StunBindingResponder _responder;
    private readonly int _index;
    private readonly RendezvousLoop _rendezvous;
    private readonly ServerCounters _counters;
    private readonly RefusalReporter _refusals;
    private readonly ILogger _logger;
    private readonly NatPunchServerOptions _options;
    private readonly TurnService? _turn;
    private readonly TlsCertificateSource? _certificates;

    public TcpConnectionDispatcher(StunBindingResponder responder, int index, RendezvousLoop rendezvous, ServerCounters counters, RefusalReporter refusals,
        ILogger logger, NatPunchServerOptions options, TurnService? turn = null, TlsCertificateSource? certificates = null)
    {
        _certificates = certificates;
        _turn = turn;
        _responder = responder;
        _index = index;
        _rendezvous = rendezvous;
        _counters = counters;
        _refusals = refusals;
        _logger = logger;
        _options = options;
    }

    /// <summary>Bytes read to tell the protocol: a first read holds little; either protocol's reader grows its buffer as frames need.</summary>
    private const int FirstReadSize = 2048;

    /// <summary>The first byte of a TLS record carrying a handshake (a ClientHello); RFC 7983 keeps 20–63 for (D)TLS.</summary>
    private const byte TlsHandshakeRecord = 0x16;

    public async Task RunAsync(Socket socket, CancellationToken cancellationToken)
    {
        SslStream? tls = null;
        byte[] first;
        int read;
        try
        {
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            handshake.CancelAfter(_options.TcpHandshakeTimeout);
            // A zero-byte read waits for data with no buffer: a connection that sends nothing holds none.
            await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, handshake.Token).ConfigureAwait(false);
            first = new byte[FirstReadSize];
            // A peek: a TLS ClientHello must reach the TLS layer whole.
            read = await socket.ReceiveAsync(first.AsMemory(0, 1), SocketFlags.Peek, handshake.Token).ConfigureAwait(false);
            if (read == 1 && first[0] == TlsHandshakeRecord)
            {
                tls = await AcceptTlsAsync(socket, handshake.Token).ConfigureAwait(false);
                if (tls is null)
                {
                    socket.Dispose();
                    return;
                }
                read = await tls.ReadAsync(first, handshake.Token).ConfigureAwait(false);
            }
            else if (read > 0)
            {
                read = await socket.ReceiveAsync(first, SocketFlags.None, handshake.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _refusals.Refused(ServerRefusal.TcpHandshakeTimeout, socket.RemoteEndPoint, $"nothing received in {_options.TcpHandshakeTimeout.TotalSeconds:0} s");
            await DisposeAsync(tls, socket).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            ServerLog.TcpClosed(_logger, socket.RemoteEndPoint, "nothing received");
            await DisposeAsync(tls, socket).ConfigureAwait(false);
            return;
        }
        if (read == 0)
        {
            await DisposeAsync(tls, socket).ConfigureAwait(false);
            return;
        }
        ReadOnlyMemory<byte> initial = first.AsMemory(0, read);
        try
        {
            if (RendezvousFrame.IsRendezvous(first[0]))
            {
                await new RendezvousConnection(socket, tls, _rendezvous, _options.TcpMessageTimeout).RunAsync(initial, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await new TcpStunConnection(socket, tls, _index, _responder, _counters, _refusals, _logger, _options.TcpIdleTimeout, _options.TcpMessageTimeout, _turn)
                    .RunAsync(initial, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (tls is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The TLS handshake; null (counted and logged) when this server has no certificate or the handshake fails.</summary>
    private async Task<SslStream?> AcceptTlsAsync(Socket socket, CancellationToken handshakeToken)
    {
        if (_certificates is null)
        {
            // Clients try TLS first and fall back to plain TCP when the server closes at once.
            _counters.CountTlsNotOffered();
            ServerLog.TcpClosed(_logger, socket.RemoteEndPoint, "TLS asked for, and this server has no certificate (--tls-cert)");
            return null;
        }
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = _certificates.Current,
                ClientCertificateRequired = false,
                // No ALPN: .NET refuses a client whose offer shares no protocol with the server's list
                // ("no application protocol", seen with openssl s_client -alpn h2), and a middlebox or
                // a generic TLS client may offer anything. RFC 7443's "stun.turn" is optional.
            }, handshakeToken).ConfigureAwait(false);
            _counters.CountTlsHandshake(succeeded: true);
            return tls;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
        {
            _counters.CountTlsHandshake(succeeded: false);
            ServerLog.TlsHandshakeFailed(_logger, socket.RemoteEndPoint, e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message);
            await tls.DisposeAsync().ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException)
        {
            _counters.CountTlsHandshake(succeeded: false);
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task DisposeAsync(SslStream? tls, Socket socket)
    {
        if (tls is not null)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
        }
        socket.Dispose();
    }
}
