namespace NatPunch.Streams;

/// <summary>
/// NewReno-style AIMD in bytes (<see cref="LossEpisodeCongestionController"/>: slow start, one
/// reduction per loss episode, the loss window after a timeout): congestion avoidance adds about one
/// SMSS per window of acknowledged bytes (RFC 5681 §3.1), and a loss halves the window.
/// </summary>
/// <remarks>
/// The decrease halves cwnd rather than FlightSize (RFC 5681 equation 4); since the window only
/// grows while the sender uses it (RFC 7661, see <c>appLimited</c>), the two stay close.
/// </remarks>
public sealed class NewRenoCongestionController(int segmentSize, int initialWindowSegments = 10)
    : LossEpisodeCongestionController(segmentSize, initialWindowSegments)
{
    private long _bytesAckedInAvoidance;

    public override void OnAcked(TimeSpan now, TimeSpan sentTime, long bytes, bool appLimited, RttEstimator rtt)
    {
        if (InRecovery(sentTime) || appLimited)
        {
            return;
        }
        if (InSlowStart)
        {
            GrowInSlowStart(bytes);
            return;
        }
        // RFC 5681 §3.1 congestion avoidance: about one SMSS per window of acknowledged bytes.
        _bytesAckedInAvoidance += bytes;
        if (_bytesAckedInAvoidance >= Window)
        {
            _bytesAckedInAvoidance -= Window;
            Window += SegmentSize;
        }
    }

    protected override long ReducedThreshold()
    {
        _bytesAckedInAvoidance = 0;
        return Window / 2;
    }
}
