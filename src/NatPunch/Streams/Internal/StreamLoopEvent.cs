namespace NatPunch.Streams.Internal;

/// <summary>Something for the <see cref="ReliableStream"/> loop to do; the loop is their only consumer.</summary>
internal abstract class StreamLoopEvent;

/// <summary>A segment from the channel, in a pooled buffer the loop returns.</summary>
internal sealed class SegmentArrived(byte[] buffer, int length) : StreamLoopEvent
{
    public byte[] Buffer { get; } = buffer;

    public int Length { get; } = length;
}

/// <summary>The timer reached the core's wake-up time (or earlier: the loop checks).</summary>
internal sealed class TimerFired : StreamLoopEvent
{
    public static TimerFired Instance { get; } = new();
}

/// <summary>The session's data moved to a path that is (or is not) reliable itself (a TCP connection).</summary>
internal sealed class PathReliabilityChanged(bool reliable) : StreamLoopEvent
{
    public static PathReliabilityChanged Reliable { get; } = new(true);

    public static PathReliabilityChanged Unreliable { get; } = new(false);

    public bool IsReliable { get; } = reliable;
}

internal sealed class ChannelFailed(Exception error) : StreamLoopEvent
{
    public Exception Error { get; } = error;
}

internal sealed class AbortRequested(uint code, string reason) : StreamLoopEvent
{
    public uint Code { get; } = code;

    public string Reason { get; } = reason;
}

/// <summary>A caller's token fired for <paramref name="operation"/>; the loop completes it as canceled if still pending.</summary>
internal sealed class CancelRequested(StreamOperation operation, CancellationToken token) : StreamLoopEvent
{
    public StreamOperation Operation { get; } = operation;

    public CancellationToken Token { get; } = token;
}

/// <summary>
/// A caller waiting for the loop. Only the loop completes it, so a canceled read can never race
/// with the loop copying into its buffer.
/// </summary>
internal abstract class StreamOperation : StreamLoopEvent
{
    public CancellationTokenRegistration Registration { get; set; }

    public abstract bool IsCompleted { get; }

    public abstract void Fail(Exception error);

    public abstract void Cancel(CancellationToken token);
}

internal abstract class StreamOperation<T> : StreamOperation
{
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Task => _completion.Task;

    public override bool IsCompleted => _completion.Task.IsCompleted;

    public void Complete(T result)
    {
        Registration.Dispose();
        _completion.TrySetResult(result);
    }

    public override void Fail(Exception error)
    {
        Registration.Dispose();
        _completion.TrySetException(error);
    }

    public override void Cancel(CancellationToken token)
    {
        Registration.Dispose();
        _completion.TrySetCanceled(token);
    }
}

internal sealed class WriteOperation(ReadOnlyMemory<byte> data) : StreamOperation<bool>
{
    public ReadOnlyMemory<byte> Remaining { get; set; } = data;
}

internal sealed class ReadOperation(Memory<byte> buffer) : StreamOperation<int>
{
    public Memory<byte> Buffer { get; } = buffer;
}

/// <summary>Completes once everything written is acknowledged; with <see cref="Finish"/>, the FIN too.</summary>
internal sealed class FlushOperation(bool finish) : StreamOperation<bool>
{
    public bool Finish { get; } = finish;
}

internal sealed class StatisticsOperation : StreamOperation<ReliableStreamStatistics>;

internal sealed class DisposeOperation : StreamOperation<bool>;
