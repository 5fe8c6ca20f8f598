using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>
/// Two <see cref="ReliableStreamCore"/>s joined by two <see cref="SimulatedLink"/>s on a fake
/// clock, run as a discrete-event simulation: every step jumps to the earliest of the cores'
/// wake-ups, the links' arrivals and the readers' next reads. If nothing is scheduled while the
/// transfer is unfinished, the stream has deadlocked and the simulation says so.
/// </summary>
public sealed class StreamSimulation
{
    private readonly byte[] _segment;

    public StreamSimulation(
        LinkConditions aToB, LinkConditions bToA, long bytesAToB, long bytesBToA,
        ReliableStreamOptions? options = null, int seed = 1,
        ReliableStreamCore? coreA = null, ReliableStreamCore? coreB = null)
    {
        options ??= ReliableStreamOptions.Default;
        A = new SimulatedEndpoint("A", coreA ?? new ReliableStreamCore(options), bytesAToB, seed * 7 + 1);
        B = new SimulatedEndpoint("B", coreB ?? new ReliableStreamCore(options), bytesBToA, seed * 7 + 2);
        LinkAToB = new SimulatedLink(aToB, seed * 7 + 3);
        LinkBToA = new SimulatedLink(bToA, seed * 7 + 4);
        _segment = new byte[Math.Max(A.Core.Options.MaxSegmentSize, B.Core.Options.MaxSegmentSize)];
    }

    public SimulatedEndpoint A { get; }

    public SimulatedEndpoint B { get; }

    public SimulatedLink LinkAToB { get; }

    public SimulatedLink LinkBToA { get; }

    public TimeSpan Now { get; private set; }

    public long Steps { get; private set; }

    /// <summary>Called with every segment as it is delivered to B (receiver = B) or to A.</summary>
    public Action<byte[], SimulatedEndpoint, TimeSpan>? OnDeliver { get; set; }

    /// <summary>Called after every step (observation, injection).</summary>
    public Action<StreamSimulation>? AfterStep { get; set; }

    public bool BothComplete => A.Core.IsComplete && B.Core.IsComplete
        && A.EndOfStreamTransitions > 0 && B.EndOfStreamTransitions > 0;

    /// <summary>Runs until <paramref name="until"/> holds or simulated time reaches <paramref name="limit"/>.</summary>
    public void Run(TimeSpan limit, Func<StreamSimulation, bool>? until = null)
    {
        until ??= static s => s.A.Core.State == ReliableStreamState.Closed && s.B.Core.State == ReliableStreamState.Closed;
        int stepsWithoutTimeAdvancing = 0;
        while (!until(this))
        {
            Steps++;
            A.Step(Now);
            B.Step(Now);
            Transmit(A, LinkAToB);
            Transmit(B, LinkBToA);
            AfterStep?.Invoke(this);
            if (until(this))
            {
                return;
            }

            TimeSpan? next = null;
            Earliest(ref next, A.Core.NextWakeUp);
            Earliest(ref next, B.Core.NextWakeUp);
            Earliest(ref next, LinkAToB.NextArrival);
            Earliest(ref next, LinkBToA.NextArrival);
            Earliest(ref next, A.NextReadTime(Now));
            Earliest(ref next, B.NextReadTime(Now));
            if (next is null)
            {
                throw new InvalidOperationException($"Deadlock at {Now}: nothing scheduled. {Describe()}");
            }
            if (next.Value > Now)
            {
                Now = next.Value;
                stepsWithoutTimeAdvancing = 0;
            }
            else if (++stepsWithoutTimeAdvancing > 10_000)
            {
                throw new InvalidOperationException($"Spinning at {Now}: a wake-up in the past that HandleTimeout does not clear. {Describe()}");
            }
            if (Now > limit)
            {
                throw new TimeoutException($"Simulated time limit {limit} reached. {Describe()}");
            }
            Deliver(LinkAToB, B);
            Deliver(LinkBToA, A);
            if (A.Core.NextWakeUp <= Now)
            {
                A.Core.HandleTimeout(Now);
            }
            if (B.Core.NextWakeUp <= Now)
            {
                B.Core.HandleTimeout(Now);
            }
        }
    }

    public string Describe() =>
        $"A: {Describe(A)}; B: {Describe(B)}; links A→B sent {LinkAToB.Sent} dropped {LinkAToB.RandomDrops}+{LinkAToB.QueueDrops}q, " +
        $"B→A sent {LinkBToA.Sent} dropped {LinkBToA.RandomDrops}+{LinkBToA.QueueDrops}q";

    private static string Describe(SimulatedEndpoint e)
    {
        ReliableStreamStatistics s = e.Core.GetStatistics();
        return $"state {e.Core.State}, wrote {e.BytesWritten}/{e.BytesToSend}, acked {s.BytesAcknowledged}, read {e.BytesRead}, " +
            $"cwnd {s.CongestionWindow}, inflight {s.BytesInFlight}, peerwnd {s.PeerWindow}, rto {s.Rto.TotalMilliseconds}ms, " +
            $"srtt {s.SmoothedRtt?.TotalMilliseconds}ms, retx {s.SegmentsRetransmitted}, RTOs {s.RetransmissionTimeouts}, " +
            $"writeDone {e.Core.IsWriteCompleted}, readDone {e.Core.IsReadFinished}, next {e.Core.NextWakeUp}";
    }

    private void Transmit(SimulatedEndpoint from, SimulatedLink link)
    {
        while (from.Core.TryPollSegment(_segment, Now, out int length))
        {
            link.Send(_segment.AsSpan(0, length), Now);
        }
    }

    private void Deliver(SimulatedLink link, SimulatedEndpoint to)
    {
        while (link.TryReceive(Now, out byte[] datagram))
        {
            OnDeliver?.Invoke(datagram, to, Now);
            to.Core.HandleSegment(datagram, Now);
        }
    }

    private static void Earliest(ref TimeSpan? current, TimeSpan? candidate)
    {
        if (candidate is { } c && (current is null || c < current.Value))
        {
            current = c;
        }
    }
}
