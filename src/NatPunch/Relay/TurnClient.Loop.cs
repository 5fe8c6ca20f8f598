using System.Net;
using System.Net.Sockets;
using NatPunch.Core;

namespace NatPunch.Relay;

public sealed partial class TurnClient
{
    /// <summary>The one loop that owns the core: events, wake-ups, then everything the core wants sent.</summary>
    private async Task RunLoopAsync()
    {
        CancellationToken stopping = _stopping.Token;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                while (_events.Reader.TryRead(out Action? work))
                {
                    work();
                }
                if (_core.NextWakeUp is { } due && Now >= due)
                {
                    _core.HandleTimeout(Now);
                }
                await FlushAsync(stopping).ConfigureAwait(false);
                if (_events.Reader.TryPeek(out _))
                {
                    continue;
                }
                TimeSpan? wake = _core.NextWakeUp;
                if (wake is null)
                {
                    if (!await _events.Reader.WaitToReadAsync(stopping).ConfigureAwait(false))
                    {
                        return;
                    }
                    continue;
                }
                TimeSpan delay = wake.Value - Now;
                if (delay <= TimeSpan.Zero)
                {
                    continue;
                }
                using var timer = new CancellationTokenSource(delay, _time);
                using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, timer.Token);
                try
                {
                    if (!await _events.Reader.WaitToReadAsync(either.Token).ConfigureAwait(false))
                    {
                        return;
                    }
                }
                catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                {
                    // The wake-up time came.
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        while (_core.TryPollTransmit(Now, out OutgoingDatagram datagram))
        {
            try
            {
                if (_options.Transport == TurnServerTransport.Tcp)
                {
                    await _socket.SendAsync(datagram.Payload, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _socket.SendToAsync(datagram.Payload, SocketFlags.None, datagram.To, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_options.Transport == TurnServerTransport.Tcp)
                {
                    FailAll(new TurnError(TurnErrorKind.Timeout, 0, $"The TCP connection to the TURN server failed: {e.Message}"));
                }
                // UDP: a failed send is a lost datagram; retransmission covers requests.
            }
        }
        while (_core.TryPollReceived(out TurnDatagram received))
        {
            _received.Writer.TryWrite(received);
        }
    }

    private async Task ReceiveUdpAsync()
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        CancellationToken stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stopping).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                continue;
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            byte[] datagram = buffer.AsSpan(0, result.ReceivedBytes).ToArray();
            var from = (IPEndPoint)result.RemoteEndPoint;
            _events.Writer.TryWrite(() => _core.HandleDatagram(datagram, from, Now));
        }
    }

    /// <summary>Reads the TCP connection's STUN messages and ChannelData into the loop.</summary>
    private async Task ReceiveTcpAsync()
    {
        CancellationToken stopping = _stopping.Token;
        IPEndPoint server = Server;
        try
        {
            await TurnStreamReader.ReadMessagesAsync(_socket, message => _events.Writer.TryWrite(() => _core.HandleDatagram(message, server, Now)), stopping)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or ObjectDisposedException)
        {
            if (!stopping.IsCancellationRequested)
            {
                var error = new TurnError(TurnErrorKind.Other, 0, $"The TCP connection to the TURN server ended: {e.Message}");
                _events.Writer.TryWrite(() => FailAll(error));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
