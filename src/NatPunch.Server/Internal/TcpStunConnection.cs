using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Stun;
using NatPunch.Server.Stun;

namespace NatPunch.Server.Internal;

/// <summary>
/// One TCP client speaking STUN: messages framed by their own length field (RFC 8489 §6.2.2),
/// answered on the same connection. Anything that is not STUN closes the connection.
/// </summary>
internal sealed class TcpStunConnection
{
    private const int MaxMessage = 65536 + StunConstants.HeaderLength;

    private readonly Socket _socket;
    private readonly int _index;
    private readonly StunBindingResponder _responder;
    private readonly ServerCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeSpan _idleTimeout;

    public TcpStunConnection(Socket socket, int index, StunBindingResponder responder, ServerCounters counters, ILogger logger, TimeSpan idleTimeout)
    {
        _socket = socket;
        _index = index;
        _responder = responder;
        _counters = counters;
        _logger = logger;
        _idleTimeout = idleTimeout;
    }

    /// <param name="initial">Bytes the dispatcher already read to recognise the protocol.</param>
    public async Task RunAsync(ReadOnlyMemory<byte> initial, CancellationToken cancellationToken)
    {
        EndPoint? remote = _socket.RemoteEndPoint;
        string reason = "closed by peer";
        try
        {
            var client = (IPEndPoint)remote!;
            byte[] clientAddress = client.Address.IsIPv4MappedToIPv6 ? client.Address.MapToIPv4().GetAddressBytes() : client.Address.GetAddressBytes();
            byte[] buffer = new byte[MaxMessage];
            byte[] response = new byte[StunBindingResponder.MaxResponseLength(MaxMessage)];
            initial.CopyTo(buffer);
            int filled = initial.Length;
            while (true)
            {
                int consumed = 0;
                while (StunMessage.TryGetFramedLength(buffer.AsSpan(consumed, filled - consumed), out int length)
                       && filled - consumed >= length)
                {
                    StunResponse outcome = _responder.Respond(buffer.AsSpan(consumed, length), clientAddress, client.Port, _index, overTcp: true, response);
                    _counters.CountRequest();
                    consumed += length;
                    if (outcome.HasResponse)
                    {
                        await _socket.SendAsync(response.AsMemory(0, outcome.Length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                        _counters.CountResponse();
                    }
                    else
                    {
                        _counters.CountDrop(outcome.Dropped);
                    }
                }
                if (filled - consumed >= 4 && !StunMessage.TryGetFramedLength(buffer.AsSpan(consumed, filled - consumed), out _))
                {
                    _counters.CountDrop(StunDropReason.Malformed);
                    reason = "not STUN";
                    return;
                }
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;

                using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                idle.CancelAfter(_idleTimeout);
                int read;
                try
                {
                    read = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    reason = "idle timeout";
                    return;
                }
                if (read == 0)
                {
                    return;
                }
                filled += read;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            reason = e.Message;
        }
        finally
        {
            ServerLog.TcpClosed(_logger, remote, reason);
            _socket.Dispose();
        }
    }
}
