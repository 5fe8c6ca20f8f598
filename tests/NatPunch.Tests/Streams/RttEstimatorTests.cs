using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

public class RttEstimatorTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void FollowsRfc6298ForAHandComputedSequence()
    {
        // G = 1 ms, no lower bound in the way, K = 4, alpha = 1/8, beta = 1/4.
        var rtt = new RttEstimator(initialRto: TimeSpan.FromSeconds(1), minRto: Ms(1), maxRto: TimeSpan.FromSeconds(60), clockGranularity: Ms(1));
        rtt.Rto.ShouldBe(TimeSpan.FromSeconds(1)); // §2.1 before any sample

        // §2.2: SRTT = R = 100, RTTVAR = R/2 = 50, RTO = 100 + max(1, 4*50) = 300
        rtt.AddSample(Ms(100));
        rtt.SmoothedRtt.ShouldBe(Ms(100));
        rtt.RttVariation.ShouldBe(Ms(50));
        rtt.Rto.ShouldBe(Ms(300));

        // §2.3: RTTVAR = 3/4*50 + 1/4*|100-120| = 42.5; SRTT = 7/8*100 + 1/8*120 = 102.5; RTO = 102.5 + 170 = 272.5
        rtt.AddSample(Ms(120));
        rtt.RttVariation.ShouldBe(Ms(42.5));
        rtt.SmoothedRtt.ShouldBe(Ms(102.5));
        rtt.Rto.ShouldBe(Ms(272.5));

        // RTTVAR = 3/4*42.5 + 1/4*|102.5-80| = 37.5; SRTT = 7/8*102.5 + 1/8*80 = 99.6875; RTO = 99.6875 + 150 = 249.6875
        rtt.AddSample(Ms(80));
        rtt.RttVariation.ShouldBe(Ms(37.5));
        rtt.SmoothedRtt.ShouldBe(Ms(99.6875));
        rtt.Rto.ShouldBe(Ms(249.6875));
        rtt.MinRtt.ShouldBe(Ms(80));
        rtt.LatestRtt.ShouldBe(Ms(80));
    }

    [Fact]
    public void ClockGranularityBoundsTheVarianceTerm()
    {
        // A steady RTT drives RTTVAR towards 0; RTO then is SRTT + G (§2.3).
        var rtt = new RttEstimator(TimeSpan.FromSeconds(1), TimeSpan.Zero, TimeSpan.FromSeconds(60), Ms(10));
        for (int i = 0; i < 200; i++)
        {
            rtt.AddSample(Ms(50));
        }
        rtt.Rto.ShouldBe(Ms(60));
    }

    [Fact]
    public void RtoIsClampedToMinimumAndMaximum()
    {
        var rtt = new RttEstimator(TimeSpan.FromSeconds(1), Ms(200), TimeSpan.FromSeconds(10), Ms(1));
        rtt.AddSample(Ms(1));
        rtt.Rto.ShouldBe(Ms(200)); // §2.4 lower bound (ours: configurable)
        var slow = new RttEstimator(TimeSpan.FromSeconds(1), Ms(200), TimeSpan.FromSeconds(10), Ms(1));
        slow.AddSample(TimeSpan.FromSeconds(8));
        slow.Rto.ShouldBe(TimeSpan.FromSeconds(10)); // §2.5 upper bound
    }

    [Fact]
    public void BackoffDoublesUpToTheMaximum()
    {
        var rtt = new RttEstimator(TimeSpan.FromSeconds(1), Ms(200), TimeSpan.FromSeconds(10), Ms(1));
        rtt.BackedOffRto(0).ShouldBe(TimeSpan.FromSeconds(1));
        rtt.BackedOffRto(1).ShouldBe(TimeSpan.FromSeconds(2));
        rtt.BackedOffRto(3).ShouldBe(TimeSpan.FromSeconds(8));
        rtt.BackedOffRto(4).ShouldBe(TimeSpan.FromSeconds(10));
        rtt.BackedOffRto(100).ShouldBe(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void ExpectedSamplesScaleTheGains()
    {
        // RFC 7323 Appendix G: with 4 samples per RTT, alpha = 1/32 and beta = 1/16.
        var rtt = new RttEstimator(TimeSpan.FromSeconds(1), Ms(1), TimeSpan.FromSeconds(60), Ms(1));
        rtt.AddSample(Ms(100));
        rtt.AddSample(Ms(132), expectedSamples: 4);
        rtt.RttVariation.ShouldBe(Ms(50 * 15.0 / 16 + 32.0 / 16));
        rtt.SmoothedRtt.ShouldBe(Ms(100 * 31.0 / 32 + 132.0 / 32));
    }
}
