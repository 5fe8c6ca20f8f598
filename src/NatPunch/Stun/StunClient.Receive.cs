using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;
using NatPunch.Stun.Internal;

namespace NatPunch.Stun;

public sealed partial class StunClient
{
    /// <summary>The one loop that reads the socket; it owns the receive buffer.</summary>
    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = new byte[ushort.MaxValue + 1];
        var address = new SocketAddress(_socket.AddressFamily);
        CancellationToken cancellationToken = _shutdown.Token;
        while (!cancellationToken.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, address, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused
                                                 or SocketError.HostUnreachable or SocketError.NetworkUnreachable
                                                 or SocketError.MessageSize)
            {
                // ICMP errors reported on the socket (Windows) and oversized datagrams: nothing to read, carry on.
                LogReceiveError(ex.SocketErrorCode);
                continue;
            }
            // The arrival time is taken before any parsing, so round-trip times do not include it.
            HandleDatagram(buffer.AsSpan(0, received), address, Now);
        }
    }

    private void HandleDatagram(ReadOnlySpan<byte> datagram, SocketAddress address, TimeSpan receivedAt)
    {
        if (!StunMessage.TryParse(datagram, out StunMessage message, out StunParseError error))
        {
            Interlocked.Increment(ref _malformedDatagrams);
            LogMalformedDatagram(ToEndPoint(address), datagram.Length, error);
            return;
        }
        switch (message.Type.Class)
        {
            case StunClass.SuccessResponse or StunClass.ErrorResponse:
                HandleResponse(datagram, message.TransactionId, address, receivedAt);
                break;
            case StunClass.Request:
                HandleRequest(message.TransactionId, address);
                break;
            default:
                Interlocked.Increment(ref _unmatchedDatagrams);
                break;
        }
    }

    private void HandleResponse(ReadOnlySpan<byte> datagram, TransactionId id, SocketAddress address, TimeSpan receivedAt)
    {
        PendingTransaction? pending;
        lock (_lock)
        {
            _pending.TryGetValue(id, out pending);
        }
        IPEndPoint from = ToEndPoint(address);
        bool handled = false;
        if (pending is not null)
        {
            lock (pending.Gate)
            {
                // The transaction runs on its sender's clock (each client's clock starts at its creation).
                handled = pending.Core.TryHandleResponse(datagram, from, pending.Sender == this ? receivedAt : pending.Sender.Now);
            }
        }
        if (!handled)
        {
            Interlocked.Increment(ref _unmatchedDatagrams);
            LogUnmatchedResponse(id, from);
            return;
        }
        Finish(pending!, pending!.Core.Response! with { ReceivedOn = LocalEndPoint }, null);
    }

    private void HandleRequest(TransactionId id, SocketAddress address)
    {
        TaskCompletionSource<IPEndPoint>? awaited;
        lock (_lock)
        {
            _awaitedRequests.Remove(id, out awaited);
        }
        if (awaited is null)
        {
            // This client answers nothing; a stray request is only counted.
            Interlocked.Increment(ref _unmatchedDatagrams);
            return;
        }
        awaited.TrySetResult(ToEndPoint(address));
    }

    private IPEndPoint ToEndPoint(SocketAddress address) =>
        SocketAddressing.Normalize((IPEndPoint)_anyEndPoint.Create(address));
}
