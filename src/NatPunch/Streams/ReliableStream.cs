using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NatPunch.Streams.Internal;

namespace NatPunch.Streams;

/// <summary>
/// A reliable, ordered, bidirectional byte stream over an <see cref="ISegmentChannel"/>: the
/// driver of a <see cref="ReliableStreamCore"/> (DESIGN.md, "Drivers").
/// </summary>
/// <remarks>
/// <para>
/// One loop task owns the core. Callers, the receive pump and the timer never touch it: they post
/// events to the loop's channel and await operations the loop completes. There are no locks.
/// </para>
/// <para>
/// Reads and writes may run concurrently with each other (one of each at a time, as for any
/// <see cref="Stream"/>). <see cref="FlushAsync(CancellationToken)"/> returns once everything
/// written has been acknowledged by the peer; <see cref="CompleteWritesAsync"/> sends the end of
/// stream and returns once it, too, is acknowledged. <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>
/// returns 0 at the peer's end of stream. A reset or an unresponsive peer fails pending and later
/// operations with <see cref="ReliableStreamResetException"/>.
/// </para>
/// <para>
/// <see cref="DisposeAsync"/> after both directions ended cleanly lingers until the peer has been
/// quiet for a few RTOs, to re-acknowledge a FIN whose acknowledgment was lost; otherwise it
/// resets the stream (a half-finished stream must not look finished to the peer).
/// The channel is not disposed: its owner does that.
/// </para>
/// </remarks>
public sealed partial class ReliableStream : Stream, ISegmentReceiver
{
    private readonly ReliableStreamCore _core;  // owned by the loop; nobody else touches it
    private readonly ISegmentChannel _channel;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _startTimestamp;
    private readonly Channel<StreamLoopEvent> _events =
        Channel.CreateUnbounded<StreamLoopEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ITimer _timer;
    private readonly Task _loop;
    private readonly Task _receivePump;
    private int _disposed;

    public ReliableStream(ISegmentChannel channel, ReliableStreamOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(channel);
        _channel = channel;
        _core = new ReliableStreamCore(options);
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _startTimestamp = _time.GetTimestamp();
        _receiveSlots = new SemaphoreSlim(MaxQueuedSegments(_core.Options));
        // A batching channel takes a turn's segments at once, in a buffer rented for the turn.
        _batch = channel is ISegmentBatchChannel ? new SegmentBatch(SegmentBatch.DefaultCapacity, _core.Options.MaxSegmentSize) : null;
        _transmitBuffer = _batch is null ? new byte[_core.Options.MaxSegmentSize] : [];
        _timer = _time.CreateTimer(static state => ((ReliableStream)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _loop = Task.Run(RunLoopAsync);
        if (channel is ISegmentPushChannel push)
        {
            _receivePump = Task.CompletedTask;
            push.PushTo(this);
        }
        else
        {
            _receivePump = Task.Run(ReceivePumpAsync);
        }
    }

    public ReliableStreamOptions Options => _core.Options;

    /// <summary>Ends once the stream is disposed and done (lingered, or its reset is out): its id may be forgotten.</summary>
    internal Task Completion => _loop;

    public override bool CanRead => _disposed == 0;

    public override bool CanWrite => _disposed == 0;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        new(Post(new ReadOperation(buffer), cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        buffer.IsEmpty ? ValueTask.CompletedTask : new(Post(new WriteOperation(buffer), cancellationToken));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <summary>Returns once every byte written so far has been acknowledged by the peer.</summary>
    public override Task FlushAsync(CancellationToken cancellationToken) => Post(new FlushOperation(finish: false), cancellationToken);

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Ends our direction after the bytes written so far and returns once they and the end of
    /// stream are acknowledged by the peer. Reading continues until the peer ends its direction.
    /// </summary>
    public Task CompleteWritesAsync(CancellationToken cancellationToken = default) =>
        Post(new FlushOperation(finish: true), cancellationToken);

    /// <summary>Resets the stream in both directions, telling the peer <paramref name="code"/> and <paramref name="reason"/>.</summary>
    public void Abort(uint code, string? reason = null) => _events.Writer.TryWrite(new AbortRequested(code, reason ?? ""));

    public void Abort(StreamResetCode code, string? reason = null) => Abort((uint)code, reason);

    /// <summary>
    /// The path below now is (or is not) reliable itself, a TCP connection: the stream then leaves
    /// retransmission and congestion control to it (<see cref="ReliableStreamCore.SetPathReliable"/>).
    /// </summary>
    internal void SetPathReliable(bool reliable) =>
        _events.Writer.TryWrite(reliable ? PathReliabilityChanged.Reliable : PathReliabilityChanged.Unreliable);

    /// <summary>A snapshot of the core's counters, taken by the loop.</summary>
    public Task<ReliableStreamStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) =>
        Post(new StatisticsOperation(), cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            var dispose = new DisposeOperation();
            if (_events.Writer.TryWrite(dispose))
            {
                await dispose.Task.ConfigureAwait(false);
            }
            await _loop.ConfigureAwait(false);
            await _shutdown.CancelAsync().ConfigureAwait(false);
            await _receivePump.ConfigureAwait(false);
            await _timer.DisposeAsync().ConfigureAwait(false);
            _shutdown.Dispose();
        }
        GC.SuppressFinalize(this);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private Task<T> Post<T>(StreamOperation<T> operation, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }
        if (_disposed != 0 && operation is not StatisticsOperation)
        {
            return Task.FromException<T>(new ObjectDisposedException(nameof(ReliableStream)));
        }
        if (cancellationToken.CanBeCanceled)
        {
            operation.Registration = cancellationToken.UnsafeRegister(
                static (state, token) =>
                {
                    var (stream, op) = ((ReliableStream, StreamOperation))state!;
                    stream._events.Writer.TryWrite(new CancelRequested(op, token));
                },
                (this, (StreamOperation)operation));
        }
        if (!_events.Writer.TryWrite(operation))
        {
            operation.Fail(new ObjectDisposedException(nameof(ReliableStream)));
        }
        return operation.Task;
    }

    private void OnTimer() => _events.Writer.TryWrite(TimerFired.Instance);
}
