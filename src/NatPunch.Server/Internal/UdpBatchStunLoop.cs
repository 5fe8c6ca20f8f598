using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using NatPunch.Server.Stun;

namespace NatPunch.Server.Internal;

/// <summary>
/// The UDP loop on Linux: a dedicated thread takes every queued datagram with one
/// <c>recvmmsg</c>, answers them all, and sends the answers with one <c>sendmmsg</c>. Under load
/// that is two system calls per batch instead of two per datagram.
/// </summary>
internal sealed class UdpBatchStunLoop
{
    private const int BatchSize = 32;

    private readonly Socket[] _sockets;
    private readonly Socket _socket;
    private readonly int _index;
    private readonly StunBindingResponder _responder;
    private readonly ServerCounters _counters;
    private readonly ILogger _logger;
    private readonly IPEndPoint _localEndPoint;

    public UdpBatchStunLoop(Socket[] sockets, Socket socket, int index, StunBindingResponder responder, ServerCounters counters, ILogger logger)
    {
        _sockets = sockets;
        _socket = socket;
        _index = index;
        _responder = responder;
        _counters = counters;
        _logger = logger;
        _localEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    public void Run(CancellationToken cancellationToken)
    {
        var requests = new LinuxDatagramBatch(BatchSize, 65536);
        var responses = new LinuxDatagramBatch(BatchSize, StunBindingResponder.MaxResponseLength(65536));
        var otherDestination = new SocketAddress(_socket.AddressFamily);
        SafeHandle handle = _socket.SafeHandle;
        bool referenced = false;
        try
        {
            // Keeps the descriptor from being closed and reused while this thread uses its number.
            handle.DangerousAddRef(ref referenced);
            Span<byte> clientAddress = stackalloc byte[16];
            while (!cancellationToken.IsCancellationRequested)
            {
                int received = requests.Receive(handle, out SocketError error);
                if (received < 0)
                {
                    if (error is SocketError.WouldBlock or SocketError.Interrupted or SocketError.ConnectionRefused or SocketError.MessageSize)
                    {
                        continue;
                    }
                    if (cancellationToken.IsCancellationRequested)
                    {
                        return;
                    }
                    ServerLog.ReceiveFailed(_logger, _localEndPoint, error.ToString());
                    cancellationToken.WaitHandle.WaitOne(100);
                    continue;
                }
                int pending = 0;
                for (int i = 0; i < received; i++)
                {
                    _counters.CountRequest();
                    Span<byte> from = requests.Address(i)[..requests.AddressLength(i)];
                    int addressLength = SocketAddressBytes.GetAddress(from, _socket.AddressFamily, clientAddress, out int clientPort);
                    StunResponse outcome = _responder.Respond(requests.Buffer(i)[..requests.Length(i)], clientAddress[..addressLength],
                        clientPort, _index, overTcp: false, responses.Buffer(pending));
                    if (!outcome.HasResponse)
                    {
                        _counters.CountDrop(outcome.Dropped);
                        continue;
                    }
                    Span<byte> to = responses.Address(pending);
                    from.CopyTo(to);
                    if (outcome.DestinationPort != 0)
                    {
                        SocketAddressBytes.SetPort(to, outcome.DestinationPort);
                    }
                    if (outcome.SendFromIndex == _index)
                    {
                        responses.PrepareSend(pending, outcome.Length, from.Length);
                        pending++;
                    }
                    else
                    {
                        // RFC 5780 CHANGE-REQUEST: answered from another socket, one at a time (rare).
                        to[..from.Length].CopyTo(otherDestination.Buffer.Span);
                        SendOne(_sockets[outcome.SendFromIndex], responses.Buffer(pending)[..outcome.Length], otherDestination);
                    }
                }
                Flush(responses, handle, pending);
            }
        }
        finally
        {
            if (referenced)
            {
                handle.DangerousRelease();
            }
        }
    }

    private void Flush(LinuxDatagramBatch responses, SafeHandle handle, int count)
    {
        int done = 0;
        while (done < count)
        {
            int sent = responses.Send(handle, done, count - done, out _);
            if (sent <= 0)
            {
                // The first unsent datagram failed (its peer, not the socket): count it and go on.
                _counters.CountSendError();
                done++;
                continue;
            }
            for (int i = 0; i < sent; i++)
            {
                _counters.CountResponse();
            }
            done += sent;
        }
    }

    private void SendOne(Socket socket, ReadOnlySpan<byte> response, SocketAddress destination)
    {
        try
        {
            socket.SendTo(response, SocketFlags.None, destination);
            _counters.CountResponse();
        }
        catch (SocketException)
        {
            _counters.CountSendError();
        }
    }
}
