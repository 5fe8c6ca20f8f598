namespace NatPunch.Streams;

/// <summary>
/// Round-trip time estimation and the retransmission timeout of RFC 6298 §2:
/// SRTT/RTTVAR smoothing with α = 1/8, β = 1/4, RTO = SRTT + max(G, K·RTTVAR) with K = 4,
/// clamped to [<see cref="MinRto"/>, <see cref="MaxRto"/>] (§2.4, §2.5).
/// </summary>
/// <remarks>
/// Samples come from echoed timestamps (RFC 7323 §4), so retransmitted segments can be measured
/// without Karn's ambiguity. Several samples per round trip would make RTTVAR decay too fast;
/// RFC 7323 Appendix G scales α and β by the number of samples expected per RTT, which
/// <see cref="AddSample"/> takes as <c>expectedSamples</c>.
/// </remarks>
public sealed class RttEstimator
{
    private const int K = 4;
    private double _srttTicks;
    private double _rttvarTicks;

    public RttEstimator(TimeSpan initialRto, TimeSpan minRto, TimeSpan maxRto, TimeSpan clockGranularity)
    {
        InitialRto = initialRto;
        MinRto = minRto;
        MaxRto = maxRto;
        ClockGranularity = clockGranularity;
    }

    public TimeSpan InitialRto { get; }

    public TimeSpan MinRto { get; }

    public TimeSpan MaxRto { get; }

    /// <summary>G in RFC 6298: the clock granularity.</summary>
    public TimeSpan ClockGranularity { get; }

    public bool HasSamples { get; private set; }

    public TimeSpan? SmoothedRtt => HasSamples ? TimeSpan.FromTicks((long)Math.Round(_srttTicks)) : null;

    public TimeSpan? RttVariation => HasSamples ? TimeSpan.FromTicks((long)Math.Round(_rttvarTicks)) : null;

    public TimeSpan? LatestRtt { get; private set; }

    /// <summary>Smallest sample seen (RACK's min_RTT, RFC 8985 §5.2).</summary>
    public TimeSpan? MinRtt { get; private set; }

    /// <summary>
    /// The RTO before backoff: <see cref="InitialRto"/> until the first sample (§2.1), then
    /// SRTT + max(G, K·RTTVAR) (§2.2–2.3), within [MinRto, MaxRto].
    /// </summary>
    public TimeSpan Rto
    {
        get
        {
            if (!HasSamples)
            {
                return Clamp(InitialRto);
            }
            double ticks = _srttTicks + Math.Max(ClockGranularity.Ticks, K * _rttvarTicks);
            return Clamp(TimeSpan.FromTicks((long)Math.Round(ticks)));
        }
    }

    /// <summary>The RTO doubled <paramref name="backoff"/> times (RFC 6298 §5.5), capped at <see cref="MaxRto"/>.</summary>
    public TimeSpan BackedOffRto(int backoff)
    {
        TimeSpan rto = Rto;
        for (int i = 0; i < backoff && rto < MaxRto; i++)
        {
            rto += rto;
        }
        return Clamp(rto);
    }

    /// <summary>
    /// Lowers <see cref="MinRtt"/> with a round trip seen some other way (a SACKed segment sent
    /// once), without touching SRTT/RTTVAR.
    /// </summary>
    public void ObserveMinRtt(TimeSpan rtt)
    {
        if (rtt >= TimeSpan.Zero && (MinRtt is null || rtt < MinRtt))
        {
            MinRtt = rtt;
        }
    }

    /// <summary>Adds a measurement R (RFC 6298 §2.2 for the first, §2.3 for the rest).</summary>
    public void AddSample(TimeSpan rtt, int expectedSamples = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rtt.Ticks, nameof(rtt));
        expectedSamples = Math.Max(1, expectedSamples);
        LatestRtt = rtt;
        MinRtt = MinRtt is { } min && min <= rtt ? min : rtt;
        double r = rtt.Ticks;
        if (!HasSamples)
        {
            _srttTicks = r;
            _rttvarTicks = r / 2;
            HasSamples = true;
            return;
        }
        double beta = 0.25 / expectedSamples;
        double alpha = 0.125 / expectedSamples;
        // RTTVAR first, with the SRTT from before this sample (§2.3).
        _rttvarTicks = (1 - beta) * _rttvarTicks + beta * Math.Abs(_srttTicks - r);
        _srttTicks = (1 - alpha) * _srttTicks + alpha * r;
    }

    private TimeSpan Clamp(TimeSpan rto) => rto < MinRto ? MinRto : rto > MaxRto ? MaxRto : rto;
}
