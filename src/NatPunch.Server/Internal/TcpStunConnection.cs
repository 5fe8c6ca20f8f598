using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Net;
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
/// Sending never blocks the caller (the TURN service sends while holding its lock): when nothing
/// is queued, a message goes straight onto the non-blocking socket from the caller's thread (no
/// thread hop, no copy); what the socket does not take is queued, in order, for one writer task,
/// and so is everything after it until the queue is empty again. Messages never interleave, and a
/// slow reader on the far side loses whole messages once <see cref="MaxQueuedBytes"/> are queued
/// (as it would over UDP) instead of stalling the relay. Sends end on message boundaries
/// (<see cref="TcpRecordSender"/>): a client that reads only whole messages through a small receive
/// buffer (<c>turnutils_uclient</c>) stalled on loopback when the kernel cut a message between two
/// of its buffers.
/// </remarks>
internal sealed class TcpStunConnection : ITurnClientConnection
{
    private const int MaxMessage = 65536 + StunConstants.HeaderLength;
    // Bytes queued for a client that reads too slowly before whole messages are dropped: absorbs
    // a burst of relayed datagrams (1024 messages of any size could hold 64 MiB; bursts of small
    // ones overflowed a 1024-message queue under load).
    private const int MaxQueuedBytes = 2 * 1024 * 1024;
    // Buffers start small and grow as the client's traffic needs (an idle or Binding-only
    // connection held 256 KiB when they were allocated at their largest up front).
    private const int InitialReadSize = 2048;
    private const int InitialQueueSize = 4096;
    // Sends to the client end on message boundaries, in records of whole messages of at most this
    // size (unless one message is larger): small enough that a client's receive window (64 KiB for
    // a 128 KiB buffer) usually takes a whole one, so that the kernel rarely has to split one.
    private const int MaxRecordSize = 16 * 1024;

    private readonly Socket _socket;
    // TLS over the socket (STUN and TURN over TLS, RFC 8489 §6.2.3, RFC 8656 turns:), or null.
    private readonly Stream? _tls;
    private readonly int _index;
    private readonly StunBindingResponder _responder;
    private readonly ServerCounters _counters;
    private readonly RefusalReporter? _refusals;
    private readonly ILogger _logger;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeSpan _messageTimeout;
    private readonly TurnService? _turn;
    // Guards the send state below; never held across I/O that can block.
    private readonly Lock _sendGate = new();
    // Bytes waiting for the writer.
    private byte[] _pending = [];
    private int _pendingLength;
    // Where each queued message ends in _pending, so that sends from the queue end on message boundaries.
    private List<int> _pendingEnds = [];
    // Bytes sent straight from TrySend since the last end of record.
    private int _unterminatedBytes;
    // The writer holds bytes taken from _pending that are not on the socket yet.
    private bool _writing;
    private bool _completed;
    // Wakes the writer; signals coalesce.
    private readonly Channel<bool> _wakeWriter = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });
    private TurnClient? _turnClient;

    /// <param name="messageTimeout">How long a message that has begun may take to arrive whole (see <see cref="NatPunchServerOptions.TcpMessageTimeout"/>).</param>
    /// <param name="tls">The TLS stream over <paramref name="socket"/>, or null for plain TCP.</param>
    public TcpStunConnection(Socket socket, Stream? tls, int index, StunBindingResponder responder, ServerCounters counters, RefusalReporter? refusals, ILogger logger,
        TimeSpan idleTimeout, TimeSpan messageTimeout, TurnService? turn = null)
    {
        _socket = socket;
        _tls = tls;
        _index = index;
        _responder = responder;
        _counters = counters;
        _refusals = refusals;
        _logger = logger;
        _idleTimeout = idleTimeout;
        _messageTimeout = messageTimeout;
        _turn = turn;
    }

    public bool TrySend(ReadOnlySpan<byte> message)
    {
        lock (_sendGate)
        {
            if (_completed || _pendingLength + message.Length > MaxQueuedBytes)
            {
                return false;
            }
            // Over TLS every message goes through the writer: the TLS stream is not safe to write from two threads.
            if (_pendingLength == 0 && !_writing && _tls is null)
            {
                bool endOfRecord = _unterminatedBytes + message.Length >= MaxRecordSize;
                int sent = TcpRecordSender.Send(_socket, message, endOfRecord, out SocketError error);
                if (error == SocketError.Success && sent == message.Length)
                {
                    _unterminatedBytes = endOfRecord ? 0 : _unterminatedBytes + sent;
                    return true;
                }
                if (error is not (SocketError.Success or SocketError.WouldBlock))
                {
                    return false; // the connection is failing; the reader will notice
                }
                // The rest of a partly sent message must follow, or the stream loses its framing.
                message = message[Math.Max(sent, 0)..];
            }
            if (_pending.Length - _pendingLength < message.Length)
            {
                Array.Resize(ref _pending, Math.Max(Math.Max(_pending.Length * 2, InitialQueueSize), _pendingLength + message.Length));
            }
            message.CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += message.Length;
            _pendingEnds.Add(_pendingLength);
        }
        _wakeWriter.Writer.TryWrite(true);
        return true;
    }

    /// <param name="initial">Bytes the dispatcher already read to recognise the protocol.</param>
    public async Task RunAsync(ReadOnlyMemory<byte> initial, CancellationToken cancellationToken)
    {
        EndPoint? remote = _socket.RemoteEndPoint;
        string reason = "closed by peer";
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Non-blocking, so that TrySend's direct send returns at once when the socket is full.
        _socket.Blocking = false;
        Task writer = WriteLoopAsync(closing.Token);
        try
        {
            var client = (IPEndPoint)remote!;
            byte[] clientAddress = IPv4Mapping.Unmap(client.Address).GetAddressBytes();
            byte[] buffer = new byte[Math.Max(InitialReadSize, initial.Length)];
            initial.CopyTo(buffer);
            int filled = initial.Length;
            // When the message now in the buffer began (Environment.TickCount64), 0 when it is empty.
            long partialSince = 0;
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
                    Answer(frame, clientAddress, client.Port);
                }
                if (filled - consumed >= 4 && !TryGetFrame(buffer.AsSpan(consumed, filled - consumed), out _, out _))
                {
                    _counters.CountDrop(StunDropReason.Malformed);
                    reason = "not STUN";
                    return;
                }
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                long now = Environment.TickCount64;
                partialSince = filled == 0 ? 0 : consumed > 0 || partialSince == 0 ? now : partialSince;
                // Room for the whole of the frame that has begun (its length is known from 4 bytes on).
                if (filled >= 4 && TryGetFrame(buffer.AsSpan(0, filled), out int next, out _) && next > buffer.Length)
                {
                    Array.Resize(ref buffer, next);
                }
                TimeSpan messageLeft = filled == 0 ? Timeout.InfiniteTimeSpan : _messageTimeout - TimeSpan.FromMilliseconds(now - partialSince);
                if (filled > 0 && messageLeft <= TimeSpan.Zero)
                {
                    reason = SlowMessage(remote);
                    return;
                }

                // A TURN client may only receive for minutes; its allocation's lifetime governs it
                // instead, and its reads (the relay's hot path) need no idle timer of their own,
                // only the message deadline while a message is half read.
                TimeSpan limit = _turnClient is null ? Shorter(_idleTimeout, messageLeft) : messageLeft;
                using CancellationTokenSource? timer = limit == Timeout.InfiniteTimeSpan ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timer?.CancelAfter(limit);
                if (_turnClient is not null)
                {
                    await _turn!.WhenRelayCaughtUpAsync().ConfigureAwait(false);
                }
                int read;
                try
                {
                    CancellationToken readToken = timer?.Token ?? cancellationToken;
                    read = _tls is null
                        ? await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, readToken).ConfigureAwait(false)
                        : await _tls.ReadAsync(buffer.AsMemory(filled), readToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    reason = filled > 0 ? SlowMessage(remote) : "idle timeout";
                    return;
                }
                if (read == 0)
                {
                    return;
                }
                filled += read;
                if (filled == buffer.Length && buffer.Length < MaxMessage)
                {
                    // The client sends more than the buffer holds per read: a bulk TURN sender, say.
                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxMessage));
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
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
            lock (_sendGate)
            {
                _completed = true;
            }
            _wakeWriter.Writer.TryComplete();
            await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
            await closing.CancelAsync().ConfigureAwait(false);
            ServerLog.TcpClosed(_logger, remote, reason);
            _socket.Dispose();
            await writer.ConfigureAwait(false);
        }
    }

    private void Answer(ReadOnlySpan<byte> request, byte[] clientAddress, int clientPort)
    {
        // Rented per request: a connection that only waits holds no response buffer.
        byte[] response = ArrayPool<byte>.Shared.Rent(StunBindingResponder.MaxResponseLength(request.Length));
        try
        {
            StunResponse outcome = _responder.Respond(request, clientAddress, clientPort, _index, overTcp: true, response);
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
        finally
        {
            ArrayPool<byte>.Shared.Return(response);
        }
    }

    private string SlowMessage(EndPoint? remote)
    {
        string reason = $"a message was not complete within {_messageTimeout.TotalSeconds:0} s";
        _refusals?.Refused(ServerRefusal.TcpSlowMessage, remote, reason);
        return reason;
    }

    private static TimeSpan Shorter(TimeSpan a, TimeSpan b) =>
        a == Timeout.InfiniteTimeSpan ? b : b == Timeout.InfiniteTimeSpan ? a : a < b ? a : b;

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
        TurnClient client = _turn!.RegisterTcpClient(remote, (IPEndPoint)_socket.LocalEndPoint!, this);
        _turnClient = client;
        return client;
    }

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Everything queued goes out, in records of whole messages; the two buffers (and their
            // lists of message ends) change places each round.
            byte[] sending = [];
            List<int> sendingEnds = [];
            while (true)
            {
                int length;
                lock (_sendGate)
                {
                    length = _pendingLength;
                    if (length == 0)
                    {
                        _writing = false;
                        _unterminatedBytes = 0; // the writer ended its last record
                    }
                    else
                    {
                        (sending, _pending) = (_pending, sending);
                        (sendingEnds, _pendingEnds) = (_pendingEnds, sendingEnds);
                        _pendingEnds.Clear();
                        _pendingLength = 0;
                        _writing = true;
                    }
                }
                if (length > 0)
                {
                    await SendRecordsAsync(sending, sendingEnds, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (!await _wakeWriter.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    lock (_sendGate)
                    {
                        if (_pendingLength == 0)
                        {
                            return; // completed and drained
                        }
                    }
                    continue;
                }
                _wakeWriter.Reader.TryRead(out _);
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Sends queued messages in records of whole messages, at most <see cref="MaxRecordSize"/> bytes unless one message is larger.</summary>
    private async Task SendRecordsAsync(byte[] data, List<int> ends, CancellationToken cancellationToken)
    {
        int start = 0;
        if (_tls is not null)
        {
            // One TLS record per message: turnutils_uclient takes each TLS read for one message and
            // lost the rest of a record that held several (3 % of a client-to-client run).
            foreach (int end in ends)
            {
                await _tls.WriteAsync(data.AsMemory(start, end - start), cancellationToken).ConfigureAwait(false);
                start = end;
            }
            return;
        }
        for (int next = 0; next < ends.Count;)
        {
            int end = ends[next++];
            while (next < ends.Count && ends[next] - start <= MaxRecordSize)
            {
                end = ends[next++];
            }
            await SendRecordAsync(data.AsMemory(start, end - start), cancellationToken).ConfigureAwait(false);
            start = end;
        }
    }

    private async Task SendRecordAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
    {
        while (!record.IsEmpty)
        {
            int sent = TcpRecordSender.Send(_socket, record.Span, endOfRecord: true, out SocketError error);
            if (sent > 0)
            {
                record = record[sent..];
                continue;
            }
            if (error is not (SocketError.Success or SocketError.WouldBlock))
            {
                throw new SocketException((int)error);
            }
            // The socket is full: an ordinary send of one byte waits for room without a thread;
            // the rest then follows it into the same buffer and ends the record.
            await _socket.SendAsync(record[..1], SocketFlags.None, cancellationToken).ConfigureAwait(false);
            record = record[1..];
        }
    }
}
