using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Server.Stun;
using NatPunch.Server.Turn;

namespace NatPunch.Server.Internal;

/// <summary>
/// Tells the protocols on the server's TCP port apart by the first byte a client sends
/// (RFC 7983 style): 0xE0 is rendezvous, anything else is handed to STUN framing
/// (which, with TURN on, also carries TURN and ChannelData).
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

    public TcpConnectionDispatcher(StunBindingResponder responder, int index, RendezvousLoop rendezvous, ServerCounters counters, RefusalReporter refusals,
        ILogger logger, NatPunchServerOptions options, TurnService? turn = null)
    {
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

    public async Task RunAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[] first;
        int read;
        try
        {
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            handshake.CancelAfter(_options.TcpHandshakeTimeout);
            // A zero-byte read waits for data with no buffer: a connection that sends nothing holds none.
            await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, handshake.Token).ConfigureAwait(false);
            first = new byte[FirstReadSize];
            read = await socket.ReceiveAsync(first, SocketFlags.None, handshake.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _refusals.Refused(ServerRefusal.TcpHandshakeTimeout, socket.RemoteEndPoint, $"nothing received in {_options.TcpHandshakeTimeout.TotalSeconds:0} s");
            socket.Dispose();
            return;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            ServerLog.TcpClosed(_logger, socket.RemoteEndPoint, "nothing received");
            socket.Dispose();
            return;
        }
        if (read == 0)
        {
            socket.Dispose();
            return;
        }
        ReadOnlyMemory<byte> initial = first.AsMemory(0, read);
        if (RendezvousFrame.IsRendezvous(first[0]))
        {
            await new RendezvousConnection(socket, _rendezvous, _options.TcpMessageTimeout).RunAsync(initial, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await new TcpStunConnection(socket, _index, _responder, _counters, _refusals, _logger, _options.TcpIdleTimeout, _options.TcpMessageTimeout, _turn)
                .RunAsync(initial, cancellationToken).ConfigureAwait(false);
        }
    }
}
