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
    private readonly ILogger _logger;
    private readonly TimeSpan _idleTimeout;
    private readonly TurnService? _turn;

    public TcpConnectionDispatcher(StunBindingResponder responder, int index, RendezvousLoop rendezvous, ServerCounters counters, ILogger logger, TimeSpan idleTimeout,
        TurnService? turn = null)
    {
        _turn = turn;
        _responder = responder;
        _index = index;
        _rendezvous = rendezvous;
        _counters = counters;
        _logger = logger;
        _idleTimeout = idleTimeout;
    }

    public async Task RunAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[] first = new byte[4096];
        int read;
        try
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idle.CancelAfter(_idleTimeout);
            read = await socket.ReceiveAsync(first, SocketFlags.None, idle.Token).ConfigureAwait(false);
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
            await new RendezvousConnection(socket, _rendezvous).RunAsync(initial, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await new TcpStunConnection(socket, _index, _responder, _counters, _logger, _idleTimeout, _turn).RunAsync(initial, cancellationToken).ConfigureAwait(false);
        }
    }
}
