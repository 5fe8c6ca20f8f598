using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>The congestion window inside real transfers, and goodput against link capacity.</summary>
public class CongestionControlTests(ITestOutputHelper output)
{
    /// <summary>Wraps a controller and records every congestion event's effect.</summary>
    private sealed class RecordingController(ICongestionController inner) : ICongestionController
    {
        public List<(long Before, long After)> Events { get; } = [];

        public long Window => inner.Window;

        public long SlowStartThreshold => inner.SlowStartThreshold;

        public bool InSlowStart => inner.InSlowStart;

        public void OnAcked(TimeSpan now, TimeSpan sentTime, long bytes, bool appLimited, RttEstimator rtt) =>
            inner.OnAcked(now, sentTime, bytes, appLimited, rtt);

        public void OnCongestionEvent(TimeSpan now, TimeSpan latestLostSentTime, long bytesInFlight)
        {
            long before = inner.Window;
            inner.OnCongestionEvent(now, latestLostSentTime, bytesInFlight);
            Events.Add((before, inner.Window));
        }

        public void OnRetransmissionTimeout(TimeSpan now, long bytesInFlight) => inner.OnRetransmissionTimeout(now, bytesInFlight);
    }

    [Fact]
    public void SlowStartDoublesPerRoundTripThenOneLossHalvesTheWindow()
    {
        RecordingController? recorder = null;
        var options = ReliableStreamOptions.Default with
        {
            CongestionControllerFactory = (mss, iw) => recorder = new RecordingController(new NewRenoCongestionController(mss, iw)),
        };
        var link = new LinkConditions { Delay = TimeSpan.FromMilliseconds(25) }; // 50 ms RTT, no bottleneck
        var coreA = new ReliableStreamCore(options);
        var sim = new StreamSimulation(link, link, 8 * 1024 * 1024, 0, coreA: coreA, coreB: new ReliableStreamCore());
        // Drop exactly one data segment, the first sent after 300 ms.
        bool dropped = false;
        sim.LinkAToB.Filter = (datagram, now) =>
        {
            if (dropped || now < TimeSpan.FromMilliseconds(300)
                || !StreamSegment.TryParse(datagram, out StreamSegment s, out _) || s.Payload.Length == 0)
            {
                return false;
            }
            return dropped = true;
        };
        var windowPerRoundTrip = new List<long>();
        sim.AfterStep = s =>
        {
            int round = (int)(s.Now.TotalMilliseconds / 50);
            while (windowPerRoundTrip.Count <= round)
            {
                windowPerRoundTrip.Add(s.A.Core.CongestionController.Window);
            }
        };

        sim.Run(TimeSpan.FromMinutes(1));

        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        output.WriteLine("cwnd at each 50 ms: " + string.Join(", ", windowPerRoundTrip.Take(12)));
        int mss = options.MaxPayloadSize;
        windowPerRoundTrip[0].ShouldBe(10L * mss);
        for (int round = 1; round <= 5; round++)
        {
            // Slow start: one window of ACKs per RTT doubles it. Sampled at RTT boundaries the early
            // rounds show less, because pacing spreads a round's ACKs across the boundary.
            ((double)windowPerRoundTrip[round + 1] / windowPerRoundTrip[round]).ShouldBeInRange(1.4, 2.1, $"round {round}");
        }
        ((double)windowPerRoundTrip[6] / windowPerRoundTrip[1]).ShouldBeGreaterThan(12); // 2^5 = 32 unpaced
        recorder!.Events.Count.ShouldBeGreaterThanOrEqualTo(1);
        (long before, long after) = recorder.Events[0];
        output.WriteLine($"first congestion event: cwnd {before} -> {after}");
        after.ShouldBe(before / 2);
        // Later reports of the same loss belong to the same episode: no second reduction.
        recorder.Events.Skip(1).ShouldAllBe(e => e.Before == e.After);
        sim.A.Core.GetStatistics().CongestionEvents.ShouldBe(1);
        sim.A.Core.GetStatistics().RetransmissionTimeouts.ShouldBe(0);
    }

    /// <summary>
    /// The reason for CUBIC: under random (not congestive) loss on a long fat path NewReno's window
    /// regrows one segment per round trip, CUBIC's along the cubic in time. 100 Mbit/s, 60 ms RTT,
    /// a one-BDP queue, the same losses for both (same seed).
    /// </summary>
    [Theory]
    [InlineData(0.001, 2.0)]
    [InlineData(0.01, 1.1)]   // at 1 % both sit near the Reno-friendly rate (Mathis: 1.9 Mbit/s here)
    public void CubicMovesMoreThanNewRenoUnderRandomLossOnALongFatPath(double loss, double atLeast)
    {
        double Goodput(Func<int, int, ICongestionController> factory, string name)
        {
            const long bitsPerSecond = 100_000_000;
            var link = new LinkConditions { Delay = TimeSpan.FromMilliseconds(30), Loss = loss, BitsPerSecond = bitsPerSecond, QueueBytes = 750_000 };
            const long bytes = 24 * 1024 * 1024;
            var options = ReliableStreamOptions.Default with { CongestionControllerFactory = factory, SendBufferSize = 16 << 20, ReceiveBufferSize = 16 << 20 };
            var sim = new StreamSimulation(link, link, bytes, 0, seed: 5, coreA: new ReliableStreamCore(options), coreB: new ReliableStreamCore(options));
            sim.Run(TimeSpan.FromMinutes(10));
            StreamTransferTests.AssertDelivered(sim.A, sim.B);
            double mbits = bytes * 8 / sim.B.ReadFinishedAt!.Value.TotalSeconds / 1e6;
            ReliableStreamStatistics a = sim.A.Core.GetStatistics();
            output.WriteLine($"{name}, {loss:P1} loss: {mbits:F1} Mbit/s, loss episodes {a.CongestionEvents}, RTOs {a.RetransmissionTimeouts}");
            return mbits;
        }

        double newReno = Goodput((mss, iw) => new NewRenoCongestionController(mss, iw), "NewReno");
        double cubic = Goodput((mss, iw) => new CubicCongestionController(mss, iw), "CUBIC");
        output.WriteLine($"CUBIC / NewReno = {cubic / newReno:F2}");
        cubic.ShouldBeGreaterThan(newReno * atLeast);
    }

    public static TheoryData<double> LossRates => [0.0, 0.001, 0.01, 0.02];

    /// <summary>
    /// One-way bulk transfer over a 10 Mbit/s, 20 ms RTT path with a one-BDP drop-tail queue.
    /// Floors are loose (the point is "not pathological"): the measured figures are printed.
    /// </summary>
    [Theory]
    [MemberData(nameof(LossRates))]
    public void GoodputOnA10MbitPath(double loss)
    {
        const long bitsPerSecond = 10_000_000;
        var link = new LinkConditions
        {
            Delay = TimeSpan.FromMilliseconds(10),
            Loss = loss,
            BitsPerSecond = bitsPerSecond,
            QueueBytes = 25_000, // one bandwidth-delay product
        };
        long bytes = loss >= 0.01 ? 4 * 1024 * 1024 : 8 * 1024 * 1024;
        var sim = new StreamSimulation(link, link, bytes, 0, seed: 21);
        sim.Run(TimeSpan.FromMinutes(10));

        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        double seconds = sim.B.ReadFinishedAt!.Value.TotalSeconds;
        double goodputBits = bytes * 8 / seconds;
        double utilisation = goodputBits / bitsPerSecond;
        // Mathis et al.: rate ≈ MSS/RTT · 1.22/√p, an upper bound for Reno-style AIMD.
        double mathis = loss > 0 ? sim.A.Core.Options.MaxPayloadSize * 8 / 0.02 * 1.22 / Math.Sqrt(loss) : double.NaN;
        ReliableStreamStatistics a = sim.A.Core.GetStatistics();
        output.WriteLine($"10 Mbit/s, 20 ms RTT, {loss:P1} loss: {bytes / 1048576} MiB in {seconds:F2} s simulated = " +
            $"{goodputBits / 1e6:F2} Mbit/s goodput ({utilisation:P0} of the link; Mathis bound {mathis / 1e6:F2} Mbit/s); " +
            $"retransmitted {a.SegmentsRetransmitted}, loss episodes {a.CongestionEvents}, RTOs {a.RetransmissionTimeouts}, " +
            $"queue drops {sim.LinkAToB.QueueDrops}, srtt {a.SmoothedRtt?.TotalMilliseconds:F1} ms");
        double floor = loss switch { 0 => 0.85, <= 0.001 => 0.70, <= 0.01 => 0.30, _ => 0.15 };
        utilisation.ShouldBeGreaterThan(floor);
    }

    [Fact]
    public void BothDirectionsShareA10MbitPath()
    {
        const long bitsPerSecond = 10_000_000;
        var link = new LinkConditions { Delay = TimeSpan.FromMilliseconds(10), BitsPerSecond = bitsPerSecond, QueueBytes = 25_000 };
        const long bytes = 4 * 1024 * 1024;
        var sim = new StreamSimulation(link, link, bytes, bytes, seed: 22);
        sim.Run(TimeSpan.FromMinutes(10));
        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        StreamTransferTests.AssertDelivered(sim.B, sim.A);
        double aToB = bytes * 8 / sim.B.ReadFinishedAt!.Value.TotalSeconds / 1e6;
        double bToA = bytes * 8 / sim.A.ReadFinishedAt!.Value.TotalSeconds / 1e6;
        output.WriteLine($"10 Mbit/s each way, 20 ms RTT, both directions at once: A→B {aToB:F2} Mbit/s, B→A {bToA:F2} Mbit/s " +
            "(each direction's queue also carries the other's ACKs)");
        aToB.ShouldBeGreaterThan(7);
        bToA.ShouldBeGreaterThan(7);
    }
}
