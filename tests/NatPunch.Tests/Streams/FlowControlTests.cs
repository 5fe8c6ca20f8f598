using NatPunch.Streams;
using NatPunch.Streams.Internal;

namespace NatPunch.Tests.Streams;

/// <summary>The receive window: a slow or stalled reader throttles the sender and never deadlocks it.</summary>
public class FlowControlTests(ITestOutputHelper output)
{
    private static readonly ReliableStreamOptions SmallBuffers = ReliableStreamOptions.Default with
    {
        ReceiveBufferSize = ReliableStreamOptions.AssumedInitialWindow,
        SendBufferSize = 128 * 1024,
    };

    private static readonly LinkConditions Link = new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        Jitter = TimeSpan.FromMilliseconds(1),
        BitsPerSecond = 20_000_000,
    };

    /// <summary>Counts data segments that reach past the receiver's buffer (one-byte window probes excepted).</summary>
    private static Func<int> WatchWindow(StreamSimulation sim)
    {
        int violations = 0;
        sim.OnDeliver = (datagram, to, now) =>
        {
            if (!StreamSegment.TryParse(datagram, out StreamSegment segment, out _) || segment.Payload.Length <= 1)
            {
                return;
            }
            long seq = SequenceNumber.Widen(segment.Sequence, to.Core.ReceiveNextForTests);
            if (seq + segment.Payload.Length > to.Core.ReceiveRightEdgeForTests)
            {
                violations++;
            }
        };
        return () => violations;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    public void SlowReaderThrottlesTheSenderWithinTheWindow(double loss)
    {
        var link = Link with { Loss = loss };
        var sim = new StreamSimulation(link, link, 1024 * 1024, 256 * 1024, SmallBuffers, seed: 5);
        sim.B.ReadRate = 100_000; // bytes per second, far below the link's 2.5 MB/s
        Func<int> violations = WatchWindow(sim);

        sim.Run(TimeSpan.FromMinutes(5));

        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        StreamTransferTests.AssertDelivered(sim.B, sim.A);
        violations().ShouldBe(0);
        // The reader sets the pace: 1 MiB at 100 kB/s takes about 10.5 s.
        sim.B.ReadFinishedAt!.Value.TotalSeconds.ShouldBeInRange(10.0, 13.0);
        output.WriteLine($"loss {loss:P0}: done at {sim.B.ReadFinishedAt}; A: {sim.A.Core.GetStatistics()}");
    }

    [Fact]
    public void StalledReaderClosesTheWindowAndProbesReopenIt()
    {
        var sim = new StreamSimulation(Link, Link, 512 * 1024, 0, SmallBuffers, seed: 6);
        sim.B.ReadStallUntil = TimeSpan.FromSeconds(20);
        Func<int> violations = WatchWindow(sim);

        sim.Run(TimeSpan.FromMinutes(5));

        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        violations().ShouldBe(0);
        ReliableStreamStatistics a = sim.A.Core.GetStatistics();
        a.WindowProbes.ShouldBeGreaterThan(0);
        output.WriteLine($"probes {a.WindowProbes}, done at {sim.B.ReadFinishedAt}; {a}");
        a.RetransmissionTimeouts.ShouldBe(0); // a closed window is not a loss...
        a.CongestionEvents.ShouldBe(0);       // ...nor congestion
        sim.A.Core.IsPeerUnresponsive.ShouldBeFalse();
    }

    [Fact]
    public void LostWindowUpdatesAreRecoveredByTheProbes()
    {
        var sim = new StreamSimulation(Link, Link, 512 * 1024, 0, SmallBuffers, seed: 7);
        sim.B.ReadStallUntil = TimeSpan.FromSeconds(5);
        // Every pure ACK from B between 5 s and 8 s is lost: the window update after the reader
        // resumes never arrives, so only A's persist timer can get the transfer going again.
        int dropped = 0;
        sim.LinkBToA.Filter = (datagram, now) =>
        {
            bool drop = now >= TimeSpan.FromSeconds(5) && now < TimeSpan.FromSeconds(8)
                && StreamSegment.TryParse(datagram, out StreamSegment s, out _) && s.Payload.Length == 0 && !s.IsFin;
            dropped += drop ? 1 : 0;
            return drop;
        };
        long probesBeforeResume = 0;
        sim.AfterStep = s =>
        {
            if (s.Now < TimeSpan.FromSeconds(5))
            {
                probesBeforeResume = s.A.Core.GetStatistics().WindowProbes;
            }
        };

        sim.Run(TimeSpan.FromMinutes(5));

        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        dropped.ShouldBeGreaterThan(0);
        sim.A.Core.GetStatistics().WindowProbes.ShouldBeGreaterThan(probesBeforeResume);
    }

    [Fact]
    public void WriteAcceptsOnlyWhatTheSendBufferHolds()
    {
        var core = new ReliableStreamCore(ReliableStreamOptions.Default with { SendBufferSize = 10_000 });
        core.Write(new byte[25_000]).ShouldBe(10_000);
        core.Write(new byte[1]).ShouldBe(0);
        core.WritableBytes.ShouldBe(0);
        core.UnacknowledgedBytes.ShouldBe(10_000);
    }
}
