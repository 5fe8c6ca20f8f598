using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Net;
using NatPunch.Protocol.Turn;
using NatPunch.Server.Stun;
using NatPunch.Server.Turn;

namespace NatPunch.Server.Internal;

/// <summary>
/// The receive loop of one UDP socket: read a datagram, let the responder decide, send the
/// answer from whichever of the server's sockets it names. It runs on a dedicated thread with
/// blocking calls (see <see cref="DedicatedThread"/>); the loop owns its buffers.
/// </summary>
internal sealed class UdpStunLoop
{
    private const int MaxDatagram = 65536;

    /// <summary>
    /// The socket's receive timeout: how often an idle loop wakes up to see whether the server is
    /// stopping, should closing the socket not wake it (it does on Linux and Windows).
    /// </summary>
    public static readonly TimeSpan WakeUpInterval = TimeSpan.FromMilliseconds(250);

    private readonly Socket[] _sockets;
    private readonly int _index;
    private readonly StunBindingResponder _responder;
    private readonly ServerCounters _counters;
    private readonly ILogger _logger;
    private readonly IPEndPoint _localEndPoint;
    private readonly TurnService? _turn;

    public UdpStunLoop(Socket[] sockets, int index, StunBindingResponder responder, ServerCounters counters, ILogger logger, TurnService? turn = null)
    {
        _turn = turn;
        _sockets = sockets;
        _index = index;
        _responder = responder;
        _counters = counters;
        _logger = logger;
        _localEndPoint = (IPEndPoint)sockets[index].LocalEndPoint!;
    }

    public void Run(CancellationToken cancellationToken)
    {
        Socket socket = _sockets[_index];
        byte[] request = GC.AllocateArray<byte>(MaxDatagram, pinned: true);
        byte[] response = GC.AllocateArray<byte>(StunBindingResponder.MaxResponseLength(MaxDatagram), pinned: true);
        var remote = new SocketAddress(socket.AddressFamily);
        while (!cancellationToken.IsCancellationRequested)
        {
            int received;
            try
            {
                received = socket.ReceiveFrom(request, SocketFlags.None, remote);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                // The wake-up timeout: nothing arrived.
                continue;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                // ICMP errors and oversized datagrams concern one peer, not the socket.
                continue;
            }
            catch (SocketException e)
            {
                ServerLog.ReceiveFailed(_logger, _localEndPoint, e.Message);
                cancellationToken.WaitHandle.WaitOne(100);
                continue;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                // Closing the socket can wake the receive with an empty "datagram".
                return;
            }
            Handle(request.AsSpan(0, received), response, remote);
        }
    }

    private void Handle(ReadOnlySpan<byte> request, Span<byte> response, SocketAddress remote)
    {
        Span<byte> clientAddress = stackalloc byte[16];
        int addressLength = SocketAddressBytes.GetAddress(remote, clientAddress, out int clientPort);
        if (_turn is not null && TurnDemultiplexer.IsTurn(request))
        {
            // Counted by the TURN service, not as STUN requests.
            _turn.HandleFromClient(TurnClient.Create(new IPEndPoint(new IPAddress(clientAddress[..addressLength]), clientPort),
                _localEndPoint, TurnClientTransport.Udp), request);
            return;
        }
        _counters.CountRequest();
        StunResponse outcome = _responder.Respond(request, clientAddress[..addressLength], clientPort, _index, overTcp: false, response);
        if (!outcome.HasResponse)
        {
            _counters.CountDrop(outcome.Dropped);
            return;
        }
        try
        {
            if (outcome.DestinationPort != 0)
            {
                int originalPort = clientPort;
                SocketAddressBytes.SetPort(remote, outcome.DestinationPort);
                _sockets[outcome.SendFromIndex].SendTo(response[..outcome.Length], SocketFlags.None, remote);
                SocketAddressBytes.SetPort(remote, originalPort);
            }
            else
            {
                _sockets[outcome.SendFromIndex].SendTo(response[..outcome.Length], SocketFlags.None, remote);
            }
            _counters.CountResponse();
        }
        catch (SocketException)
        {
            _counters.CountSendError();
        }
    }
}
