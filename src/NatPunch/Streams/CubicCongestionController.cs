namespace NatPunch.Streams;

/// <summary>
/// CUBIC (RFC 9438), in bytes: after a loss the window shrinks to β = 0.7 of itself (NewReno halves
/// it), then grows along a cubic function of the time since the reduction: fast while far below the
/// window where the loss happened (W_max), flat near it, and probing faster again beyond it. Growth
/// depends on time, not on the number of round trips, so a long or lossy path regains its rate
/// sooner. Where NewReno would grow faster (short round trips, small windows) it follows NewReno's
/// estimate instead (the Reno-friendly region, §4.3).
/// </summary>
/// <remarks>
/// Slow start, one reduction per loss episode and the loss window after a timeout (§4.8) are
/// <see cref="LossEpisodeCongestionController"/>'s (no HyStart++). Fast convergence (§4.7) is on. While the sender is
/// application-limited the window does not grow, and the time spent so does not count toward the
/// cubic curve (§5.8), so an idle stream does not come back with a window it never tested.
/// </remarks>
public sealed class CubicCongestionController : LossEpisodeCongestionController
{
    /// <summary>β_cubic: the window kept after a congestion event.</summary>
    public const double Beta = 0.7;

    /// <summary>C: the cubic's scale, in segments per second cubed.</summary>
    public const double C = 0.4;

    // §4.3: NewReno's average rate at the same loss rate, for a decrease of β instead of 1/2.
    private const double RenoFriendlyAlpha = 3 * (1 - Beta) / (1 + Beta);

    private TimeSpan? _epochStart;        // start of the current congestion-avoidance stage (t = 0)
    private TimeSpan _lastAck;
    private double _windowMax;            // W_max in segments
    private double _k;                    // seconds from the epoch to W_max
    private double _renoEstimate;         // W_est in segments
    private double _growthCredit;         // fractions of a byte carried to the next ACK

    /// <param name="segmentSize">SMSS: the largest payload of one segment.</param>
    /// <param name="initialWindowSegments">IW in segments (RFC 6928 suggests 10).</param>
    public CubicCongestionController(int segmentSize, int initialWindowSegments = 10)
        : base(segmentSize, initialWindowSegments)
    {
    }

    /// <summary>W_max in bytes: the window at the last congestion event, after fast convergence (0 before any).</summary>
    public long WindowMax => (long)(_windowMax * SegmentSize);

    public override void OnAcked(TimeSpan now, TimeSpan sentTime, long bytes, bool appLimited, RttEstimator rtt)
    {
        TimeSpan sinceLastAck = now - _lastAck;
        _lastAck = now;
        if (appLimited)
        {
            // §5.8: the time the application left the window unused does not move the curve on.
            if (_epochStart is { } start && sinceLastAck > TimeSpan.Zero)
            {
                _epochStart = start + sinceLastAck;
            }
            return;
        }
        if (InRecovery(sentTime))
        {
            return;
        }
        if (InSlowStart)
        {
            GrowInSlowStart(bytes);
            return;
        }
        double window = (double)Window / SegmentSize;
        if (_epochStart is null)
        {
            BeginEpoch(now, window);
        }
        double t = (now - _epochStart!.Value).TotalSeconds;
        double roundTrip = (rtt.SmoothedRtt ?? TimeSpan.Zero).TotalSeconds;
        double segmentsAcked = (double)bytes / SegmentSize;

        // §4.3: what NewReno (with β's decrease) would have by now.
        double alpha = _renoEstimate >= _windowMax ? 1.0 : RenoFriendlyAlpha;
        _renoEstimate += alpha * segmentsAcked / window;

        double cubic = CubicWindow(t);
        double grownWindow;
        if (cubic < _renoEstimate)
        {
            grownWindow = _renoEstimate;
        }
        else
        {
            // §4.4/§4.5: head for W_cubic one round trip ahead, by at most half the window per round trip.
            double target = Math.Clamp(CubicWindow(t + roundTrip), window, 1.5 * window);
            grownWindow = window + (target - window) / window * segmentsAcked;
        }
        _growthCredit += (grownWindow - window) * SegmentSize;
        if (_growthCredit >= 1)
        {
            long grow = (long)_growthCredit;
            Window += grow;
            _growthCredit -= grow;
        }
    }

    /// <summary>§4.6 and §4.7: remember where the loss happened (lower, when the last one was lower still); keep β of the window.</summary>
    protected override long ReducedThreshold()
    {
        double window = (double)Window / SegmentSize;
        _windowMax = window < _windowMax ? window * (1 + Beta) / 2 : window;
        _epochStart = null;
        _growthCredit = 0;
        return (long)(Window * Beta);
    }

    private void BeginEpoch(TimeSpan now, double window)
    {
        _epochStart = now;
        if (window < _windowMax)
        {
            _k = Math.Cbrt((_windowMax - window) / C);
        }
        else
        {
            // Above the last loss (or none yet, leaving slow start): probe from here.
            _k = 0;
            _windowMax = window;
        }
        _renoEstimate = window;
    }

    private double CubicWindow(double t) => C * Math.Pow(t - _k, 3) + _windowMax;
}
