using System.Runtime.CompilerServices;
using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>End of stream, reset, lingering and the dead-peer signal.</summary>
public class StreamLifecycleTests
{
    private static readonly LinkConditions Link = new() { Delay = TimeSpan.FromMilliseconds(10) };

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0, 5000)]
    [InlineData(1, 1)]
    [InlineData(1147, 1148)]
    public void EmptyAndTinyStreamsEndCleanly(long aToB, long bToA)
    {
        var sim = new StreamSimulation(Link, Link, aToB, bToA);
        sim.Run(TimeSpan.FromMinutes(1));
        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        StreamTransferTests.AssertDelivered(sim.B, sim.A);
        sim.A.Core.State.ShouldBe(ReliableStreamState.Closed);
        sim.B.Core.State.ShouldBe(ReliableStreamState.Closed);
    }

    [Fact]
    public void OneDirectionCanEndLongBeforeTheOther()
    {
        var sim = new StreamSimulation(Link, Link with { BitsPerSecond = 1_000_000 }, 10, 400_000);
        sim.Run(TimeSpan.FromMinutes(1));
        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        StreamTransferTests.AssertDelivered(sim.B, sim.A);
        sim.B.ReadFinishedAt!.Value.ShouldBeLessThan(TimeSpan.FromSeconds(1));
        sim.A.ReadFinishedAt!.Value.ShouldBeGreaterThan(TimeSpan.FromSeconds(3)); // 400 kB at 1 Mbit/s
    }

    [Fact]
    public void LingeringReacknowledgesAFinWhoseAckWasLost()
    {
        const long bToA = 20_000;
        var sim = new StreamSimulation(Link, Link, 10_000, bToA);
        // Lose A's first acknowledgment of B's FIN (ACK = B's length + 1, the FIN's slot).
        StrongBox<int> dropped = DropAcknowledgmentsOfFin(sim.LinkAToB, bToA, count: 1);
        sim.Run(TimeSpan.FromMinutes(1));
        dropped.Value.ShouldBe(1);
        sim.B.Core.IsWriteCompleted.ShouldBeTrue();
        sim.B.Core.GetStatistics().SegmentsRetransmitted.ShouldBeGreaterThan(0);
        sim.A.Core.State.ShouldBe(ReliableStreamState.Closed);
        sim.B.Core.State.ShouldBe(ReliableStreamState.Closed);
    }

    /// <summary>
    /// A whose RTO is far longer than B's linger (a backed-off or pessimistic peer): B's ACK of A's
    /// FIN is lost. B repeats it unasked while lingering, so A completes long before its own
    /// retransmission would go out (seen in CI: the peer had closed, and A waited 30 s).
    /// </summary>
    [Fact]
    public void ALostFinalAckIsRepeatedBeforeAPeerWithALongRtoRetransmits()
    {
        const long aToB = 20_000; // B's 10 bytes are long acknowledged when A's FIN arrives
        var sim = new StreamSimulation(Link, Link, aToB, 10, coreA: new ReliableStreamCore(SlowRetransmitter));
        StrongBox<int> dropped = DropAcknowledgmentsOfFin(sim.LinkBToA, aToB, count: 1);
        sim.Run(TimeSpan.FromMinutes(1), s => s.A.Core.IsComplete);
        dropped.Value.ShouldBe(1);
        sim.A.Core.GetStatistics().SegmentsRetransmitted.ShouldBe(0);
        sim.A.Core.IsWriteCompleted.ShouldBeTrue();
        sim.Now.ShouldBeLessThan(SlowRetransmitter.MinRto); // the repeat came, not A's retransmission
        sim.Run(TimeSpan.FromMinutes(1));
        sim.A.Core.State.ShouldBe(ReliableStreamState.Closed);
        sim.B.Core.State.ShouldBe(ReliableStreamState.Closed);
    }

    /// <summary>All of B's ACKs of A's FIN lost, repeats included: B has closed, yet still answers A's retransmission.</summary>
    [Fact]
    public void AClosedCoreStillAnswersARetransmittedFin()
    {
        const long aToB = 20_000; // B's 10 bytes are long acknowledged when A's FIN arrives
        var sim = new StreamSimulation(Link, Link, aToB, 10, coreA: new ReliableStreamCore(SlowRetransmitter));
        StrongBox<int> dropped = DropAcknowledgmentsOfFin(sim.LinkBToA, aToB, count: 3);
        TimeSpan? bClosedAt = null;
        sim.AfterStep = s => bClosedAt ??= s.B.Core.State == ReliableStreamState.Closed ? s.Now : null;
        sim.Run(TimeSpan.FromMinutes(1));
        dropped.Value.ShouldBe(3); // the first ACK and both repeats
        bClosedAt.ShouldNotBeNull();
        sim.A.Core.IsWriteCompleted.ShouldBeTrue();
        sim.A.Core.GetStatistics().SegmentsRetransmitted.ShouldBeGreaterThan(0);
        sim.A.Core.State.ShouldBe(ReliableStreamState.Closed);
        sim.Now.ShouldBeGreaterThan(bClosedAt.Value + SlowRetransmitter.MinRto / 2);
    }

    /// <summary>No tail loss probes and an RTO of at least 2 s: retransmits only long after a 200 ms-RTO peer stopped lingering.</summary>
    private static readonly ReliableStreamOptions SlowRetransmitter = new()
    {
        TailLossProbe = false,
        MinRto = TimeSpan.FromSeconds(2),
        InitialRto = TimeSpan.FromSeconds(2),
    };

    /// <summary>Drops the first <paramref name="count"/> segments on <paramref name="link"/> that acknowledge a FIN at <paramref name="finOffset"/>.</summary>
    private static StrongBox<int> DropAcknowledgmentsOfFin(SimulatedLink link, long finOffset, int count)
    {
        var dropped = new StrongBox<int>();
        link.Filter = (datagram, at) =>
        {
            bool drop = dropped.Value < count && IsAcknowledgmentOfFin(datagram, finOffset);
            dropped.Value += drop ? 1 : 0;
            return drop;
        };
        return dropped;
    }

    private static bool IsAcknowledgmentOfFin(byte[] datagram, long finOffset) =>
        StreamSegment.TryParse(datagram, out StreamSegment s, out _) && s.Acknowledgment == finOffset + 1;

    [Fact]
    public void AbortResetsThePeerWithCodeAndReason()
    {
        var slow = Link with { BitsPerSecond = 10_000_000 };
        var sim = new StreamSimulation(slow, slow, 10_000_000, 10_000_000);
        sim.Run(TimeSpan.FromMinutes(1), s => s.Now > TimeSpan.FromSeconds(1));
        sim.A.Core.Abort(StreamResetCode.ApplicationBase + 7, "user pressed ^C");
        sim.Run(TimeSpan.FromMinutes(1), s => s.B.Core.IsReset);

        sim.B.Core.ResetByPeer.ShouldBeTrue();
        sim.B.Core.ResetCode.ShouldBe((uint)StreamResetCode.ApplicationBase + 7);
        sim.B.Core.ResetReason.ShouldBe("user pressed ^C");
        sim.B.Core.IsWriteCompleted.ShouldBeFalse(); // a half-sent stream is never reported as sent
        sim.A.Core.ResetByPeer.ShouldBeFalse();
        sim.A.Core.NextWakeUp.ShouldBeNull();
        Should.Throw<InvalidOperationException>(() => sim.B.Core.Write(new byte[1]));
    }

    [Fact]
    public void AnAbortedStreamAnswersFurtherSegmentsWithReset()
    {
        var slow = Link with { BitsPerSecond = 10_000_000 };
        var sim = new StreamSimulation(slow, slow, 1_000_000, 1_000_000);
        int resets = 0;
        sim.LinkAToB.Filter = (datagram, at) =>
            StreamSegment.TryParse(datagram, out StreamSegment s, out _) && s.IsReset && ++resets == 1;
        sim.Run(TimeSpan.FromMinutes(1), s => s.Now > TimeSpan.FromMilliseconds(200));
        sim.A.Core.Abort(StreamResetCode.Aborted, "first"); // this RST is lost...
        sim.Run(TimeSpan.FromMinutes(1), s => s.B.Core.IsReset); // ...B's next segment draws another
        sim.B.Core.ResetCode.ShouldBe((uint)StreamResetCode.Aborted);
        resets.ShouldBeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public void BlackHoleBacksOffExponentiallyAndSignalsAnUnresponsivePeer()
    {
        var core = new ReliableStreamCore(ReliableStreamOptions.Default with { PeerTimeout = TimeSpan.FromSeconds(30) });
        var buffer = new byte[1200];
        core.Write(new byte[100]);
        TimeSpan now = TimeSpan.Zero;
        var transmissions = new List<double>();
        while (now < TimeSpan.FromSeconds(40))
        {
            while (core.TryPollSegment(buffer, now, out _))
            {
                transmissions.Add(now.TotalSeconds);
            }
            if (core.IsPeerUnresponsive)
            {
                break;
            }
            now = core.NextWakeUp!.Value;
            core.HandleTimeout(now);
        }
        // RFC 6298: 1 s initial RTO, doubling (§5.5) up to the 10 s maximum.
        transmissions.ShouldBe([0, 1, 3, 7, 15, 25]);
        now.ShouldBe(TimeSpan.FromSeconds(30));
        core.IsPeerUnresponsive.ShouldBeTrue();
        core.GetStatistics().RetransmissionTimeouts.ShouldBe(5);
        core.GetStatistics().CongestionWindow.ShouldBe(core.Options.MaxPayloadSize);
    }

    [Fact]
    public void AnIdleStreamNeverTimesOut()
    {
        var core = new ReliableStreamCore();
        var buffer = new byte[1200];
        core.TryPollSegment(buffer, TimeSpan.Zero, out _).ShouldBeFalse();
        core.NextWakeUp.ShouldBeNull(); // nothing outstanding: liveness is the session's business
    }

    [Fact]
    public void MisuseThrows()
    {
        var core = new ReliableStreamCore();
        core.Finish();
        Should.Throw<InvalidOperationException>(() => core.Write(new byte[1]));
        Should.Throw<ArgumentException>(() => core.TryPollSegment(new byte[100], TimeSpan.Zero, out _));
        Should.Throw<ArgumentException>(() => new ReliableStreamCore(ReliableStreamOptions.Default with { ReceiveBufferSize = 1000 }));
        Should.Throw<ArgumentException>(() => new ReliableStreamCore(ReliableStreamOptions.Default with { MaxSegmentSize = 50 }));
    }

    [Fact]
    public void SequenceNumbersCrossTheWireWrap()
    {
        // Start both directions just below 2^32 so the transfer crosses the 32-bit wrap.
        const long startAToB = (1L << 32) - 300_000, startBToA = (3L << 32) - 100_000;
        var a = new ReliableStreamCore(null, startAToB, startBToA);
        var b = new ReliableStreamCore(null, startBToA, startAToB);
        var link = Link with { Loss = 0.05, Duplication = 0.02, Reordering = 0.05, BitsPerSecond = 50_000_000 };
        var sim = new StreamSimulation(link, link, 1_000_000, 1_000_000, coreA: a, coreB: b, seed: 3);
        sim.Run(TimeSpan.FromMinutes(2));
        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        StreamTransferTests.AssertDelivered(sim.B, sim.A);
    }
}
