namespace NatPunch.Streams;

/// <summary>
/// What NewReno and CUBIC share: a window in bytes that starts at the initial window and slow-starts
/// by the bytes acknowledged (RFC 3465, not past ssthresh in one step); one reduction per loss
/// episode (RFC 6582 §3.2: losses of data sent before the episode began do not reduce again, and
/// ACKs for it do not grow the window), the episode ending with the first ACK for data sent after
/// it began (RFC 9002 §7.3.2); and after a timeout the same reduction, then the one-segment loss
/// window (RFC 5681 §3.1). A subclass says how much a reduction keeps and how the window grows in
/// congestion avoidance.
/// </summary>
public abstract class LossEpisodeCongestionController : ICongestionController
{
    private TimeSpan? _recoveryStart;

    /// <param name="segmentSize">SMSS: the largest payload of one segment.</param>
    /// <param name="initialWindowSegments">IW in segments (RFC 6928 suggests 10).</param>
    protected LossEpisodeCongestionController(int segmentSize, int initialWindowSegments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialWindowSegments, 1);
        SegmentSize = segmentSize;
        MinimumWindow = 2L * segmentSize;
        Window = (long)initialWindowSegments * segmentSize;
    }

    public long Window { get; protected set; }

    public long SlowStartThreshold { get; private set; } = long.MaxValue;

    public bool InSlowStart => Window < SlowStartThreshold;

    protected int SegmentSize { get; }

    /// <summary>The smallest ssthresh a reduction leaves: two segments.</summary>
    protected long MinimumWindow { get; }

    /// <summary>Whether data sent at <paramref name="sentTime"/> belongs to the current loss episode.</summary>
    public bool InRecovery(TimeSpan sentTime) => _recoveryStart is { } start && sentTime <= start;

    public abstract void OnAcked(TimeSpan now, TimeSpan sentTime, long bytes, bool appLimited, RttEstimator rtt);

    public void OnCongestionEvent(TimeSpan now, TimeSpan latestLostSentTime, long bytesInFlight)
    {
        if (InRecovery(latestLostSentTime))
        {
            return; // same loss episode: already reduced (RFC 6582 §3.2 step 2)
        }
        Reduce(now);
        Window = SlowStartThreshold;
    }

    public void OnRetransmissionTimeout(TimeSpan now, long bytesInFlight)
    {
        // Everything sent before now belongs to this episode.
        Reduce(now);
        Window = SegmentSize;
    }

    /// <summary>Slow start: grows by the bytes acknowledged, but not past ssthresh in one step (RFC 3465).</summary>
    protected void GrowInSlowStart(long bytes) => Window = Math.Min(Window + bytes, Math.Max(SlowStartThreshold, Window));

    /// <summary>
    /// A loss episode begins: the subclass forgets its growth state and returns the ssthresh it wants
    /// (from <see cref="Window"/>, still the window at the loss); at least <see cref="MinimumWindow"/> is kept.
    /// </summary>
    protected abstract long ReducedThreshold();

    private void Reduce(TimeSpan now)
    {
        _recoveryStart = now;
        SlowStartThreshold = Math.Max(ReducedThreshold(), MinimumWindow);
    }
}
