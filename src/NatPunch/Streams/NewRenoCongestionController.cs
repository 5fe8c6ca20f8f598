namespace NatPunch.Streams;

/// <summary>
/// NewReno-style AIMD in bytes: slow start and congestion avoidance (RFC 5681 §3.1, with
/// appropriate byte counting, RFC 3465), one multiplicative decrease per loss episode
/// (RFC 6582 §3.2: losses of data sent before the episode began do not reduce again, and ACKs
/// for it do not grow the window), and the one-segment loss window after a timeout.
/// </summary>
/// <remarks>
/// The decrease halves cwnd rather than FlightSize (RFC 5681 equation 4); since the window only
/// grows while the sender uses it (RFC 7661, see <c>appLimited</c>), the two stay close.
/// Recovery ends with the first ACK for data sent after it began, as in RFC 9002 §7.3.2.
/// </remarks>
public sealed class NewRenoCongestionController : ICongestionController
{
    private readonly int _segmentSize;
    private readonly long _minimumWindow;
    private long _bytesAckedInAvoidance;
    private TimeSpan? _recoveryStart;

    /// <param name="segmentSize">SMSS: the largest payload of one segment.</param>
    /// <param name="initialWindowSegments">IW in segments (RFC 6928 suggests 10).</param>
    public NewRenoCongestionController(int segmentSize, int initialWindowSegments = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialWindowSegments, 1);
        _segmentSize = segmentSize;
        _minimumWindow = 2L * segmentSize;
        Window = (long)initialWindowSegments * segmentSize;
    }

    public long Window { get; private set; }

    public long SlowStartThreshold { get; private set; } = long.MaxValue;

    public bool InSlowStart => Window < SlowStartThreshold;

    public bool InRecovery(TimeSpan sentTime) => _recoveryStart is { } start && sentTime <= start;

    public void OnAcked(TimeSpan now, TimeSpan sentTime, long bytes, bool appLimited, RttEstimator rtt)
    {
        if (InRecovery(sentTime) || appLimited)
        {
            return;
        }
        if (InSlowStart)
        {
            // RFC 3465: grow by the bytes acknowledged, but not past ssthresh in one step.
            Window = Math.Min(Window + bytes, Math.Max(SlowStartThreshold, Window));
            return;
        }
        // RFC 5681 §3.1 congestion avoidance: about one SMSS per window of acknowledged bytes.
        _bytesAckedInAvoidance += bytes;
        if (_bytesAckedInAvoidance >= Window)
        {
            _bytesAckedInAvoidance -= Window;
            Window += _segmentSize;
        }
    }

    public void OnCongestionEvent(TimeSpan now, TimeSpan latestLostSentTime, long bytesInFlight)
    {
        if (InRecovery(latestLostSentTime))
        {
            return; // same loss episode: already reduced (RFC 6582 §3.2 step 2)
        }
        _recoveryStart = now;
        SlowStartThreshold = Math.Max(Window / 2, _minimumWindow);
        Window = SlowStartThreshold;
        _bytesAckedInAvoidance = 0;
    }

    public void OnRetransmissionTimeout(TimeSpan now, long bytesInFlight)
    {
        // RFC 5681 §3.1: ssthresh from equation (4), cwnd = loss window (1 SMSS). Everything sent
        // before now belongs to this episode.
        SlowStartThreshold = Math.Max(Window / 2, _minimumWindow);
        Window = _segmentSize;
        _recoveryStart = now;
        _bytesAckedInAvoidance = 0;
    }
}
