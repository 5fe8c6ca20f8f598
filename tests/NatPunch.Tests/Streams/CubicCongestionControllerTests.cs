using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>CUBIC's window (RFC 9438) on a fake clock: ACKs are fed one window per round trip.</summary>
public class CubicCongestionControllerTests
{
    private const int Mss = 1000;
    private static TimeSpan T(double ms) => TimeSpan.FromMilliseconds(ms);

    private static RttEstimator RttOf(double ms)
    {
        var rtt = new RttEstimator(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(1));
        rtt.AddSample(T(ms));
        return rtt;
    }

    /// <summary>Acknowledges one whole window per round trip, a segment at a time, until <paramref name="until"/>.</summary>
    private static TimeSpan AckWindows(CubicCongestionController cc, TimeSpan from, TimeSpan until, double rttMs, List<(double Seconds, long Window)>? trace = null)
    {
        RttEstimator rtt = RttOf(rttMs);
        TimeSpan now = from;
        while (now < until)
        {
            long segments = cc.Window / Mss;
            for (long i = 0; i < segments; i++)
            {
                TimeSpan at = now + T(rttMs * i / segments);
                cc.OnAcked(at, at - T(rttMs), Mss, appLimited: false, rtt);
            }
            now += T(rttMs);
            trace?.Add(((now - from).TotalSeconds, cc.Window));
        }
        return now;
    }

    [Fact]
    public void SlowStartGrowsByTheBytesAcknowledged()
    {
        var cc = new CubicCongestionController(Mss, initialWindowSegments: 10);
        for (int i = 0; i < 10; i++)
        {
            cc.OnAcked(T(100), T(0), Mss, appLimited: false, RttOf(100));
        }
        cc.Window.ShouldBe(20 * Mss);
    }

    [Fact]
    public void LossKeepsSevenTenthsOfTheWindowOncePerEpisode()
    {
        var cc = new CubicCongestionController(Mss, initialWindowSegments: 100);
        cc.OnCongestionEvent(T(1000), T(950), 100 * Mss);
        cc.Window.ShouldBe(70 * Mss);
        cc.SlowStartThreshold.ShouldBe(70 * Mss);
        cc.WindowMax.ShouldBe(100 * Mss);
        cc.OnCongestionEvent(T(1010), T(999), 70 * Mss);   // sent before the episode began
        cc.OnAcked(T(1020), T(990), 10 * Mss, false, RttOf(50));
        cc.Window.ShouldBe(70 * Mss);
        cc.OnCongestionEvent(T(2000), T(1500), 70 * Mss);  // a new episode
        cc.Window.ShouldBe(49 * Mss);
    }

    [Fact]
    public void FastConvergenceLowersTheTargetWhenLossesComeBelowTheLastMaximum()
    {
        var cc = new CubicCongestionController(Mss, initialWindowSegments: 100);
        cc.OnCongestionEvent(T(1000), T(900), 100 * Mss);  // W_max 100, cwnd 70
        cc.OnCongestionEvent(T(2000), T(1500), 70 * Mss);  // 70 < 100: W_max = 70 × 1.7 / 2 = 59.5
        cc.WindowMax.ShouldBe(59_500);
    }

    [Fact]
    public void TheWindowReturnsToWhereTheLossHappenedAfterKSecondsThenProbesBeyond()
    {
        // 100 ms RTT, W_max 1,000 segments: K = cbrt(1000 × 0.3 / 0.4) ≈ 9.09 s. NewReno would need 500 round trips (50 s) from 500.
        var cc = new CubicCongestionController(Mss, initialWindowSegments: 1000);
        cc.OnCongestionEvent(T(0), T(0), 1000 * Mss);
        cc.Window.ShouldBe(700 * Mss);
        var trace = new List<(double Seconds, long Window)>();
        AckWindows(cc, T(1), T(14_000), rttMs: 100, trace);

        double k = Math.Cbrt(1000 * (1 - CubicCongestionController.Beta) / CubicCongestionController.C);
        long at(double seconds) => trace.First(p => p.Seconds >= seconds).Window;
        // Concave up to K: most of the way back within half of K, then flat near W_max.
        at(k / 2).ShouldBeGreaterThan(850 * Mss);
        at(k / 2).ShouldBeLessThan(1000 * Mss);
        at(k).ShouldBeInRange(980 * Mss, 1020 * Mss);
        // Convex beyond K: faster and faster.
        long beyond1 = at(k + 2) - at(k + 1), beyond2 = at(k + 4) - at(k + 3);
        beyond2.ShouldBeGreaterThan(beyond1);
        at(k + 4).ShouldBeGreaterThan(1020 * Mss);
    }

    [Fact]
    public void OnShortRoundTripsItGrowsAtLeastAsFastAsNewRenoWould()
    {
        // 1 ms RTT: the cubic curve is slow in round trips, so the Reno-friendly estimate leads.
        var cc = new CubicCongestionController(Mss, initialWindowSegments: 100);
        cc.OnCongestionEvent(T(0), T(0), 100 * Mss);
        AckWindows(cc, T(1), T(1 + 100), rttMs: 1);  // 100 round trips
        // α = 3 × 0.3 / 1.7 ≈ 0.53 segments per round trip: about 53 segments in 100 round trips.
        cc.Window.ShouldBeGreaterThan(70 * Mss + 45 * Mss);
    }

    [Fact]
    public void ATimeoutFallsBackToOneSegmentAndSlowStartsToSevenTenths()
    {
        var cc = new CubicCongestionController(Mss, initialWindowSegments: 100);
        cc.OnRetransmissionTimeout(T(1000), 100 * Mss);
        cc.Window.ShouldBe(Mss);
        cc.SlowStartThreshold.ShouldBe(70 * Mss);
        cc.InSlowStart.ShouldBeTrue();
    }

    [Fact]
    public void TimeLeftUnusedByTheApplicationDoesNotCountTowardTheCurve()
    {
        var busy = new CubicCongestionController(Mss, initialWindowSegments: 1000);
        var idle = new CubicCongestionController(Mss, initialWindowSegments: 1000);
        busy.OnCongestionEvent(T(0), T(0), 1000 * Mss);
        idle.OnCongestionEvent(T(0), T(0), 1000 * Mss);
        TimeSpan end = AckWindows(busy, T(1), T(2001), rttMs: 100);
        AckWindows(idle, T(1), T(1001), rttMs: 100);
        // Ten seconds application-limited (an ACK every 100 ms that grows nothing), then busy again.
        TimeSpan now = T(1001);
        long before = idle.Window;
        for (int i = 0; i < 100; i++, now += T(100))
        {
            idle.OnAcked(now, now - T(100), Mss, appLimited: true, RttOf(100));
        }
        idle.Window.ShouldBe(before);
        AckWindows(idle, now, now + T(1000), rttMs: 100);
        // Without the shift the idle one would jump to the curve's value 12 s after the loss (past W_max).
        ((double)idle.Window / busy.Window).ShouldBeInRange(0.97, 1.03);
    }
}
