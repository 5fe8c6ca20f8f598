namespace NatPunch.Streams.Internal;

/// <summary>
/// Token-bucket pacing: spreads a window's worth of segments over a round trip instead of
/// bursting it, so that a shallow bottleneck queue is not overrun (the idea behind Linux fq
/// pacing and RFC 9002 §7.7). Rate = gain × cwnd / SRTT; the bucket holds a few milliseconds'
/// worth (at least <see cref="MinBurstSegments"/> segments) so coarse driver timers lose nothing.
/// </summary>
internal sealed class Pacer
{
    public const int MinBurstSegments = 10;
    private static readonly TimeSpan BurstTime = TimeSpan.FromMilliseconds(2);

    private readonly int _segmentSize;
    private double _tokens;
    private TimeSpan _lastRefill;
    private bool _started;

    public Pacer(int segmentSize)
    {
        _segmentSize = segmentSize;
        _tokens = MinBurstSegments * segmentSize;
    }

    /// <summary>Returns when <paramref name="bytes"/> may be sent, or null if now; spends the tokens when now.</summary>
    public TimeSpan? TrySpend(TimeSpan now, int bytes, long congestionWindow, TimeSpan? smoothedRtt, bool slowStart)
    {
        if (smoothedRtt is not { } srtt || srtt <= TimeSpan.Zero)
        {
            return null; // no RTT yet: nothing to pace against; the initial window bounds the burst
        }
        double gain = slowStart ? 2.0 : 1.25;
        double bytesPerSecond = gain * congestionWindow / srtt.TotalSeconds;
        double capacity = Math.Max(MinBurstSegments * _segmentSize, bytesPerSecond * BurstTime.TotalSeconds);
        if (!_started)
        {
            _started = true;
            _lastRefill = now;
        }
        if (now > _lastRefill)
        {
            _tokens = Math.Min(capacity, _tokens + (now - _lastRefill).TotalSeconds * bytesPerSecond);
            _lastRefill = now;
        }
        _tokens = Math.Min(_tokens, capacity);
        if (_tokens >= bytes)
        {
            _tokens -= bytes;
            return null;
        }
        double wait = (bytes - _tokens) / bytesPerSecond;
        return now + TimeSpan.FromTicks(Math.Max(1, (long)Math.Ceiling(wait * TimeSpan.TicksPerSecond)));
    }
}
