using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Server.Stun;
using NatPunch.Server.Turn;

namespace NatPunch.Server.Internal;

/// <summary>
/// One TCP client speaking STUN: messages framed by their own length field (RFC 8489 §6.2.2),
/// answered on the same connection. With TURN on, the same stream also carries TURN requests and
/// ChannelData padded to 4 bytes (RFC 8656 §12.5), and the relay's messages to the client.
/// Anything that is neither closes the connection.
/// </summary>
/// <remarks>
/// Everything sent goes through one bounded queue drained by one writer task: Binding answers from
/// this connection's reader and relayed data from the TURN service's threads never interleave, and
/// a slow reader on the far side loses datagrams (as it would over UDP) instead of stalling the relay.
/// </remarks>
internal sealed class TcpStunConnection : ITurnClientConnection
{
    private const int MaxMessage = 65536 + StunConstants.HeaderLength;
    private const int SendQueueLength = 1024;
    private const int WriteBufferSize = 64 * 1024;

    private readonly Socket _socket;
    private readonly int _index;
    private readonly StunBindingResponder _responder;
    private readonly ServerCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeSpan _idleTimeout;
    private readonly TurnService? _turn;
    private readonly Channel<byte[]> _sendQueue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(SendQueueLength)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });
    private TurnClient? _turnClient;

    public TcpStunConnection(Socket socket, int index, StunBindingResponder responder, ServerCounters counters, ILogger logger, TimeSpan idleTimeout,
        TurnService? turn = null)
    {
        _socket = socket;
        _index = index;
        _responder = responder;
        _counters = counters;
        _logger = logger;
        _idleTimeout = idleTimeout;
        _turn = turn;
    }

    public bool TrySend(ReadOnlySpan<byte> message) => _sendQueue.Writer.TryWrite(message.ToArray());

    /// <param name="initial">Bytes the dispatcher already read to recognise the protocol.</param>
    public async Task RunAsync(ReadOnlyMemory<byte> initial, CancellationToken cancellationToken)
    {
        EndPoint? remote = _socket.RemoteEndPoint;
        string reason = "closed by peer";
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task writer = WriteLoopAsync(closing.Token);
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
                while (TryGetFrame(buffer.AsSpan(consumed, filled - consumed), out int length, out bool isTurn)
                       && filled - consumed >= length)
                {
                    ReadOnlySpan<byte> frame = buffer.AsSpan(consumed, length);
                    consumed += length;
                    if (isTurn)
                    {
                        _turn!.HandleFromClient(TurnClientFor(client), frame);
                        continue;
                    }
                    StunResponse outcome = _responder.Respond(frame, clientAddress, client.Port, _index, overTcp: true, response);
                    _counters.CountRequest();
                    if (outcome.HasResponse)
                    {
                        TrySend(response.AsSpan(0, outcome.Length));
                        _counters.CountResponse();
                    }
                    else
                    {
                        _counters.CountDrop(outcome.Dropped);
                    }
                }
                if (filled - consumed >= 4 && !TryGetFrame(buffer.AsSpan(consumed, filled - consumed), out _, out _))
                {
                    _counters.CountDrop(StunDropReason.Malformed);
                    reason = "not STUN";
                    return;
                }
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;

                // A TURN client may only receive for minutes; its allocation's lifetime governs it
                // instead, and its reads (the relay's hot path) need no idle timer of their own.
                using CancellationTokenSource? idle = _turnClient is null ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
                idle?.CancelAfter(_idleTimeout);
                int read;
                try
                {
                    read = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, idle?.Token ?? cancellationToken).ConfigureAwait(false);
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
            if (_turnClient is { } turnClient)
            {
                _turn!.OnTcpClosed(turnClient);
            }
            // Let queued answers (a last error response, say) go out before closing.
            _sendQueue.Writer.TryComplete();
            await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
            await closing.CancelAsync().ConfigureAwait(false);
            ServerLog.TcpClosed(_logger, remote, reason);
            _socket.Dispose();
            await writer.ConfigureAwait(false);
        }
    }

    /// <summary>The length of the next frame: a STUN message, or with TURN on, padded ChannelData.</summary>
    private bool TryGetFrame(ReadOnlySpan<byte> data, out int length, out bool isTurn)
    {
        isTurn = false;
        if (_turn is not null && ChannelData.TryGetFramedLength(data, out length, legacyRange: true))
        {
            isTurn = true;
            return true;
        }
        if (!StunMessage.TryGetFramedLength(data, out length))
        {
            return false;
        }
        isTurn = _turn is not null && data.Length >= StunConstants.HeaderLength && TurnDemultiplexer.IsTurnStun(data);
        return true;
    }

    private TurnClient TurnClientFor(IPEndPoint remote)
    {
        if (_turnClient is { } existing)
        {
            return existing;
        }
        var client = TurnClient.Create(remote, (IPEndPoint)_socket.LocalEndPoint!, TurnClientTransport.Tcp);
        _turn!.RegisterTcpClient(client, this);
        _turnClient = client;
        return client;
    }

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            // What is queued goes out in as few sends as possible: messages are gathered into one
            // buffer (a message larger than what is left is sent on its own after it).
            byte[] gather = new byte[WriteBufferSize];
            while (await _sendQueue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                int length = 0;
                while (_sendQueue.Reader.TryRead(out byte[]? message))
                {
                    if (length + message.Length > gather.Length)
                    {
                        if (length > 0)
                        {
                            await _socket.SendAsync(gather.AsMemory(0, length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                            length = 0;
                        }
                        if (message.Length > gather.Length)
                        {
                            await _socket.SendAsync(message, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                            continue;
                        }
                    }
                    message.CopyTo(gather.AsSpan(length));
                    length += message.Length;
                }
                if (length > 0)
                {
                    await _socket.SendAsync(gather.AsMemory(0, length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
