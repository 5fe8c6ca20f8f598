using System.Buffers;
using NatPunch.Streams.Internal;

namespace NatPunch.Streams;

// The loop that owns the core, the receive pump that feeds it, and the timer that wakes it.
public sealed partial class ReliableStream
{
    /// <summary>
    /// Segments queued ahead of the loop at most: at least a full receive window's worth, so that a
    /// burst the peer may legitimately send (a GRO read hands over dozens at once) is never dropped here.
    /// Beyond that the socket buffer holds (or drops) them.
    /// </summary>
    private static int MaxQueuedSegments(ReliableStreamOptions options) =>
        Math.Max(1024, options.ReceiveBufferSize / options.MaxPayloadSize + 64);

    /// <summary>Events handled per loop turn before timers and sending get their turn.</summary>
    private const int MaxEventsPerTurn = 256;

    private readonly SemaphoreSlim _receiveSlots;   // counts segments queued for the loop, not a lock
    private readonly byte[] _transmitBuffer;
    private readonly SegmentBatch? _batch;

    // Everything below belongs to the loop task.
    private readonly Queue<WriteOperation> _writes = new();
    private readonly Queue<ReadOperation> _reads = new();
    private readonly Queue<FlushOperation> _flushes = new();
    private DisposeOperation? _disposing;
    private Exception? _terminalError;
    private TimeSpan? _timerDue;

    private TimeSpan Now => _time.GetElapsedTime(_startTimestamp);

    private async Task RunLoopAsync()
    {
        try
        {
            while (true)
            {
                StreamLoopEvent next = await _events.Reader.ReadAsync().ConfigureAwait(false);
                Handle(next);
                for (int i = 0; i < MaxEventsPerTurn && _events.Reader.TryRead(out next!); i++)
                {
                    Handle(next);
                }
                if (_core.NextWakeUp <= Now)
                {
                    _core.HandleTimeout(Now);
                }
                ServiceOperations();
                await TransmitAsync().ConfigureAwait(false);
                if (_disposing is not null && _core.State is not (ReliableStreamState.Open or ReliableStreamState.Lingering))
                {
                    break; // closed after lingering, or reset and the RST is out
                }
                ScheduleTimer();
            }
        }
        catch (Exception e)
        {
            // A bug, not a network condition: fail everyone rather than hang them.
            ReliableStreamLog.LoopFailed(_logger, _core.StreamId, e);
            _terminalError ??= new IOException("The stream's loop failed.", e);
        }
        finally
        {
            ReliableStreamLog.Closed(_logger, _core.StreamId, _core.GetStatistics());
            (_core.CongestionController as IDisposable)?.Dispose(); // a session's share of the window is freed
            _events.Writer.TryComplete();
            var disposed = new ObjectDisposedException(nameof(ReliableStream));
            Exception error = _terminalError ?? disposed;
            FailAll(_writes, error);
            FailAll(_reads, error);
            FailAll(_flushes, error);
            while (_events.Reader.TryRead(out StreamLoopEvent? late))
            {
                Release(late);
                (late as StreamOperation)?.Fail(disposed);
            }
            _disposing?.Complete(true);
        }
    }

    private void Handle(StreamLoopEvent loopEvent)
    {
        switch (loopEvent)
        {
            case SegmentArrived segment:
                _core.HandleSegment(segment.Buffer.AsSpan(0, segment.Length), Now);
                Release(segment);
                break;
            case TimerFired:
                _timerDue = null; // re-armed after this turn, whatever it was set for
                break;
            case WriteOperation write:
                _writes.Enqueue(write);
                break;
            case ReadOperation read:
                _reads.Enqueue(read);
                break;
            case FlushOperation flush:
                _flushes.Enqueue(flush);
                break;
            case StatisticsOperation statistics:
                statistics.Complete(_core.GetStatistics());
                break;
            case CancelRequested cancel:
                if (!cancel.Operation.IsCompleted)
                {
                    cancel.Operation.Cancel(cancel.Token);
                }
                break;
            case AbortRequested abort:
                ResetLocally(abort.Code, abort.Reason, inner: null);
                break;
            case PathReliabilityChanged path:
                _core.SetPathReliable(path.IsReliable, Now);
                break;
            case ChannelFailed failed:
                ReliableStreamLog.ChannelFailed(_logger, _core.StreamId, failed.Error);
                ResetLocally((uint)StreamResetCode.TransportFailed, failed.Error.Message, failed.Error);
                break;
            case DisposeOperation dispose:
                _disposing = dispose;
                if (_core.State == ReliableStreamState.Open)
                {
                    ResetLocally((uint)StreamResetCode.Disposed, "disposed before both directions ended", null);
                }
                break;
        }
    }

    private void ResetLocally(uint code, string reason, Exception? inner)
    {
        _core.Abort(code, reason);
        _terminalError ??= new ReliableStreamResetException(code, reason, byPeer: false, inner);
    }

    /// <summary>Moves pending reads, writes and flushes forward as far as the core allows now.</summary>
    private void ServiceOperations()
    {
        if (_terminalError is null)
        {
            if (_core.IsReset)
            {
                _terminalError = new ReliableStreamResetException(_core.ResetCode, _core.ResetReason, _core.ResetByPeer);
                ReliableStreamLog.Reset(_logger, _core.StreamId, _terminalError.Message);
            }
            else if (_core.IsPeerUnresponsive)
            {
                string reason = $"nothing heard from the peer for {_core.Options.PeerTimeout.TotalSeconds:0.#} s";
                ResetLocally((uint)StreamResetCode.PeerUnresponsive, reason, new TimeoutException(reason));
                ReliableStreamLog.Reset(_logger, _core.StreamId, reason);
            }
        }

        while (_writes.TryPeek(out WriteOperation? write))
        {
            if (!write.IsCompleted)
            {
                if (_terminalError is not null)
                {
                    write.Fail(_terminalError);
                }
                else if (_core.IsWriteFinished)
                {
                    write.Fail(new InvalidOperationException("Write after CompleteWritesAsync."));
                }
                else
                {
                    write.Remaining = write.Remaining[_core.Write(write.Remaining.Span)..];
                    if (!write.Remaining.IsEmpty)
                    {
                        break; // the send buffer is full: wait for acknowledgments
                    }
                    write.Complete(true);
                }
            }
            _writes.Dequeue();
        }

        while (_flushes.TryPeek(out FlushOperation? flush))
        {
            if (!flush.IsCompleted)
            {
                if (_terminalError is not null)
                {
                    flush.Fail(_terminalError);
                }
                else if (_writes.Count > 0)
                {
                    break; // earlier writes are not even buffered yet
                }
                else
                {
                    if (flush.Finish)
                    {
                        _core.Finish();
                    }
                    bool done = flush.Finish ? _core.IsWriteCompleted : _core.UnacknowledgedBytes == 0;
                    if (!done)
                    {
                        break;
                    }
                    flush.Complete(true);
                }
            }
            _flushes.Dequeue();
        }

        while (_reads.TryPeek(out ReadOperation? read))
        {
            if (!read.IsCompleted)
            {
                int count = _core.Read(read.Buffer.Span);
                if (count > 0 || _core.IsReadFinished || (read.Buffer.IsEmpty && _core.ReadableBytes > 0))
                {
                    read.Complete(count); // an empty read completes when data is available, as sockets do
                }
                else if (_terminalError is not null)
                {
                    read.Fail(_terminalError);
                }
                else
                {
                    break;
                }
            }
            _reads.Dequeue();
        }
    }

    private async Task TransmitAsync()
    {
        if (_batch is not null)
        {
            TransmitBatches((ISegmentBatchChannel)_channel, _batch);
            return;
        }
        while (_core.TryPollSegment(_transmitBuffer, Now, out int length))
        {
            try
            {
                await _channel.SendAsync(_transmitBuffer.AsMemory(0, length), _shutdown.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                ReliableStreamLog.ChannelFailed(_logger, _core.StreamId, e);
                ResetLocally((uint)StreamResetCode.TransportFailed, e.Message, e);
                ServiceOperations();
                return;
            }
        }
    }

    /// <summary>Sends what the core has to send, up to a batch at a time.</summary>
    private void TransmitBatches(ISegmentBatchChannel channel, SegmentBatch batch)
    {
        try
        {
            while (true)
            {
                while (!batch.IsFull && _core.TryPollSegment(batch.NextSlot, Now, out int length))
                {
                    batch.Commit(length);
                }
                if (batch.Count == 0)
                {
                    return;
                }
                bool more = batch.IsFull;
                channel.SendBatch(batch);
                batch.Clear();
                if (!more)
                {
                    return;
                }
            }
        }
        catch (Exception e)
        {
            ReliableStreamLog.ChannelFailed(_logger, _core.StreamId, e);
            ResetLocally((uint)StreamResetCode.TransportFailed, e.Message, e);
            ServiceOperations();
        }
        finally
        {
            batch.Release();
        }
    }

    /// <summary>
    /// Arms the timer for the core's next wake-up. A later deadline than the one armed is left
    /// alone (the early tick just re-arms), which spares a timer change per ACK as the RTO moves.
    /// </summary>
    private void ScheduleTimer()
    {
        TimeSpan? wakeUp = _core.NextWakeUp;
        if (wakeUp is null || (_timerDue is { } armed && armed <= wakeUp))
        {
            return;
        }
        _timerDue = wakeUp;
        TimeSpan due = wakeUp.Value - Now;
        // Timers tick in milliseconds: round up so that the core is never woken before its time.
        long milliseconds = due <= TimeSpan.Zero ? 0 : (long)Math.Ceiling(due.TotalMilliseconds);
        _timer.Change(TimeSpan.FromMilliseconds(milliseconds), Timeout.InfiniteTimeSpan);
    }

    private async Task ReceivePumpAsync()
    {
        CancellationToken token = _shutdown.Token;
        try
        {
            while (true)
            {
                await _receiveSlots.WaitAsync(token).ConfigureAwait(false);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(_core.Options.MaxSegmentSize + 1);
                int length;
                try
                {
                    length = await _channel.ReceiveAsync(buffer, token).ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
                if (!_events.Writer.TryWrite(new SegmentArrived(buffer, length)))
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return; // the loop has ended
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _events.Writer.TryWrite(new ChannelFailed(e));
        }
    }

    /// <summary>
    /// A pushing channel's segment (on its thread): copied into a pooled buffer and queued for the loop,
    /// or dropped when the loop has <see cref="MaxQueuedSegments"/> waiting already, as a full socket
    /// buffer would drop it (the peer retransmits).
    /// </summary>
    void ISegmentReceiver.OnSegment(ReadOnlySpan<byte> segment)
    {
        if (!_receiveSlots.Wait(0))
        {
            return;
        }
        int length = Math.Min(segment.Length, _core.Options.MaxSegmentSize + 1);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_core.Options.MaxSegmentSize + 1);
        segment[..length].CopyTo(buffer);
        if (!_events.Writer.TryWrite(new SegmentArrived(buffer, length)))
        {
            ArrayPool<byte>.Shared.Return(buffer); // the loop has ended
        }
    }

    void ISegmentReceiver.OnChannelClosed(Exception reason) => _events.Writer.TryWrite(new ChannelFailed(reason));

    private void Release(StreamLoopEvent loopEvent)
    {
        if (loopEvent is SegmentArrived segment)
        {
            ArrayPool<byte>.Shared.Return(segment.Buffer);
            _receiveSlots.Release();
        }
    }

    private static void FailAll<T>(Queue<T> operations, Exception error) where T : StreamOperation
    {
        while (operations.TryDequeue(out T? operation))
        {
            if (!operation.IsCompleted)
            {
                operation.Fail(error);
            }
        }
    }
}
