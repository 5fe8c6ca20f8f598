using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

public class NewRenoCongestionControllerTests
{
    private const int Mss = 1000;
    private static readonly RttEstimator Rtt = new(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(1));
    private static TimeSpan T(int ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void SlowStartGrowsByTheBytesAcknowledged()
    {
        var cc = new NewRenoCongestionController(Mss, initialWindowSegments: 10);
        cc.Window.ShouldBe(10 * Mss);
        cc.InSlowStart.ShouldBeTrue();
        for (int i = 0; i < 10; i++)
        {
            cc.OnAcked(T(100), T(0), Mss, appLimited: false, Rtt);
        }
        cc.Window.ShouldBe(20 * Mss); // doubled in one window's worth of ACKs
    }

    [Fact]
    public void AppLimitedAcksDoNotGrowTheWindow()
    {
        var cc = new NewRenoCongestionController(Mss);
        cc.OnAcked(T(100), T(0), 5 * Mss, appLimited: true, Rtt);
        cc.Window.ShouldBe(10 * Mss);
    }

    [Fact]
    public void LossHalvesTheWindowOncePerEpisode()
    {
        var cc = new NewRenoCongestionController(Mss, initialWindowSegments: 40);
        cc.OnCongestionEvent(now: T(1000), latestLostSentTime: T(950), bytesInFlight: 40 * Mss);
        cc.Window.ShouldBe(20 * Mss);
        cc.SlowStartThreshold.ShouldBe(20 * Mss);
        cc.InSlowStart.ShouldBeFalse();

        // More losses of data sent before the episode began: same episode, no further decrease (RFC 6582).
        cc.OnCongestionEvent(T(1010), T(990), 20 * Mss);
        cc.OnCongestionEvent(T(1020), T(1000), 20 * Mss);
        cc.Window.ShouldBe(20 * Mss);
        // ACKs for data sent before the episode do not grow the window either.
        cc.OnAcked(T(1030), T(999), 10 * Mss, false, Rtt);
        cc.Window.ShouldBe(20 * Mss);

        // A loss of data sent after the episode began is a new episode.
        cc.OnCongestionEvent(T(2000), T(1500), 20 * Mss);
        cc.Window.ShouldBe(10 * Mss);
    }

    [Fact]
    public void CongestionAvoidanceAddsOneSegmentPerWindow()
    {
        var cc = new NewRenoCongestionController(Mss, initialWindowSegments: 20);
        cc.OnCongestionEvent(T(100), T(50), 20 * Mss); // cwnd = ssthresh = 10 MSS
        for (int i = 0; i < 10; i++)
        {
            cc.OnAcked(T(200), T(150), Mss, false, Rtt);
        }
        cc.Window.ShouldBe(11 * Mss);
        for (int i = 0; i < 11; i++)
        {
            cc.OnAcked(T(300), T(250), Mss, false, Rtt);
        }
        cc.Window.ShouldBe(12 * Mss);
    }

    [Fact]
    public void WindowNeverDropsBelowTwoSegmentsOnLoss()
    {
        var cc = new NewRenoCongestionController(Mss, initialWindowSegments: 2);
        cc.OnCongestionEvent(T(100), T(50), 2 * Mss);
        cc.Window.ShouldBe(2 * Mss);
    }

    [Fact]
    public void TimeoutCollapsesToOneSegmentAndSlowStartsToHalf()
    {
        var cc = new NewRenoCongestionController(Mss, initialWindowSegments: 40);
        cc.OnRetransmissionTimeout(T(1000), 40 * Mss);
        cc.Window.ShouldBe(Mss);
        cc.SlowStartThreshold.ShouldBe(20 * Mss);
        cc.InSlowStart.ShouldBeTrue();
        cc.OnAcked(T(1100), T(1050), Mss, false, Rtt);
        cc.Window.ShouldBe(2 * Mss);
    }
}
