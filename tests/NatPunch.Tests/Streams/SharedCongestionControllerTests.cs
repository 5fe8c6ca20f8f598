using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

public class SharedCongestionControllerTests
{
    private const int Mss = 1000;
    private static readonly RttEstimator Rtt = new(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(1));
    private static TimeSpan T(int ms) => TimeSpan.FromMilliseconds(ms);

    private static SharedCongestionController Shared(int initialWindowSegments = 100) =>
        new(new NewRenoCongestionController(Mss, initialWindowSegments));

    [Fact]
    public void TheWindowIsDividedAmongTheStreamsThatHaveBytesInFlight()
    {
        SharedCongestionController shared = Shared();
        ICongestionController a = shared.Join(TimeSpan.Zero), b = shared.Join(TimeSpan.Zero), c = shared.Join(TimeSpan.Zero);
        a.Window.ShouldBe(100 * Mss);            // alone: all of it

        a.OnFlightChanged(5 * Mss);
        b.OnFlightChanged(5 * Mss);
        shared.SendingStreams.ShouldBe(2);
        a.Window.ShouldBe(50 * Mss);
        b.Window.ShouldBe(50 * Mss);
        c.Window.ShouldBe(33 * Mss + 333);       // c would be the third

        a.OnFlightChanged(0);
        b.Window.ShouldBe(100 * Mss);
        ((IDisposable)b).Dispose();              // a stream that ends takes no part any more
        shared.SendingStreams.ShouldBe(0);
    }

    [Fact]
    public void AckFromAnyStreamGrowsTheOneWindowAndApplicationLimitedOnesDoNot()
    {
        SharedCongestionController shared = Shared(initialWindowSegments: 10);
        ICongestionController a = shared.Join(TimeSpan.Zero), b = shared.Join(TimeSpan.Zero);
        a.OnAcked(T(10), T(0), 5 * Mss, appLimited: false, Rtt);
        b.OnAcked(T(10), T(0), 5 * Mss, appLimited: false, Rtt);
        shared.Window.ShouldBe(20 * Mss);        // slow start: grown by both streams' bytes
        b.OnAcked(T(20), T(10), 5 * Mss, appLimited: true, Rtt);
        shared.Window.ShouldBe(20 * Mss);
    }

    [Fact]
    public void LossesInSeveralStreamsOfOneEpisodeReduceTheWindowOnce()
    {
        SharedCongestionController shared = Shared();
        // b's clock started 1 s after a's: b's 500 ms is the session's 1,500 ms.
        ICongestionController a = shared.Join(TimeSpan.Zero), b = shared.Join(TimeSpan.FromSeconds(1));
        a.OnCongestionEvent(now: T(2000), latestLostSentTime: T(1900), bytesInFlight: 0);
        shared.Window.ShouldBe(50 * Mss);
        b.OnCongestionEvent(now: T(1010), latestLostSentTime: T(950), bytesInFlight: 0);  // sent at 1,950: same episode
        shared.Window.ShouldBe(50 * Mss);
        b.OnCongestionEvent(now: T(2000), latestLostSentTime: T(1500), bytesInFlight: 0); // sent at 2,500: a new one
        shared.Window.ShouldBe(25 * Mss);
    }

    [Fact]
    public void AStreamsTimeoutIsALossEpisodeNotACollapseOfEveryStreamsWindow()
    {
        SharedCongestionController shared = Shared();
        ICongestionController a = shared.Join(TimeSpan.Zero);
        a.OnRetransmissionTimeout(T(1000), 0);
        shared.Window.ShouldBe(50 * Mss);
    }
}
