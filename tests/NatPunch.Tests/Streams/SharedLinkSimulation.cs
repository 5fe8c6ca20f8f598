using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>
/// Many stream pairs of one session over one shared link each way (one bottleneck, one queue), as
/// <see cref="StreamSimulation"/> runs one pair: segments from every sender share the link and are
/// handed to the receiver whose stream id they carry, as the session's mux does. Fake clock,
/// discrete events: each step jumps to the earliest wake-up or arrival.
/// </summary>
public sealed class SharedLinkSimulation
{
    private readonly byte[] _segment = new byte[ReliableStreamOptions.Default.MaxSegmentSize];

    /// <param name="streams">Pairs; stream i has id i + 1 on both sides, and its sender sends <paramref name="bytesEach"/>.</param>
    /// <param name="sharedCongestion">Each side's streams share one congestion window, as a session's do (<see cref="SharedCongestionController"/>); false: one controller per stream.</param>
    public SharedLinkSimulation(int streams, LinkConditions forward, LinkConditions backward, long bytesEach, int seed = 1, bool sharedCongestion = true)
    {
        ReliableStreamOptions SideOptions()
        {
            ReliableStreamOptions options = ReliableStreamOptions.Default;
            if (!sharedCongestion)
            {
                return options;
            }
            // The simulation's clock is every stream's: no offsets.
            var shared = new SharedCongestionController(options.CongestionControllerFactory(options.MaxPayloadSize, options.InitialWindowSegments));
            return options with { CongestionControllerFactory = (_, _) => shared.Join(TimeSpan.Zero) };
        }
        ReliableStreamOptions senders = SideOptions(), receivers = SideOptions();
        for (int i = 0; i < streams; i++)
        {
            Senders.Add(new SimulatedEndpoint($"A{i + 1}", new ReliableStreamCore(senders with { StreamId = (uint)(i + 1) }), bytesEach, seed * 1000 + i));
            Receivers.Add(new SimulatedEndpoint($"B{i + 1}", new ReliableStreamCore(receivers with { StreamId = (uint)(i + 1) }), 0, seed * 2000 + i));
        }
        Forward = new SimulatedLink(forward, seed * 7 + 3);
        Backward = new SimulatedLink(backward, seed * 7 + 4);
    }

    public List<SimulatedEndpoint> Senders { get; } = [];

    public List<SimulatedEndpoint> Receivers { get; } = [];

    public SimulatedLink Forward { get; }

    public SimulatedLink Backward { get; }

    public TimeSpan Now { get; private set; }

    /// <summary>Runs until <paramref name="until"/> holds; throws past <paramref name="limit"/> or on a deadlock.</summary>
    public void Run(TimeSpan limit, Func<SharedLinkSimulation, bool> until)
    {
        while (!until(this))
        {
            foreach (SimulatedEndpoint endpoint in Senders.Concat(Receivers))
            {
                endpoint.Step(Now);
            }
            foreach (SimulatedEndpoint sender in Senders)
            {
                Transmit(sender, Forward);
            }
            foreach (SimulatedEndpoint receiver in Receivers)
            {
                Transmit(receiver, Backward);
            }
            if (until(this))
            {
                return;
            }
            TimeSpan? next = Forward.NextArrival;
            Earliest(ref next, Backward.NextArrival);
            foreach (SimulatedEndpoint endpoint in Senders.Concat(Receivers))
            {
                Earliest(ref next, endpoint.Core.NextWakeUp);
            }
            if (next is null)
            {
                throw new InvalidOperationException($"Deadlock at {Now}: nothing scheduled.");
            }
            if (next.Value > Now)
            {
                Now = next.Value;
            }
            if (Now > limit)
            {
                throw new TimeoutException($"Simulated time limit {limit} reached.");
            }
            Deliver(Forward, Receivers);
            Deliver(Backward, Senders);
            foreach (SimulatedEndpoint endpoint in Senders.Concat(Receivers))
            {
                if (endpoint.Core.NextWakeUp <= Now)
                {
                    endpoint.Core.HandleTimeout(Now);
                }
            }
        }
    }

    private void Transmit(SimulatedEndpoint from, SimulatedLink link)
    {
        while (from.Core.TryPollSegment(_segment, Now, out int length))
        {
            link.Send(_segment.AsSpan(0, length), Now);
        }
    }

    private void Deliver(SimulatedLink link, List<SimulatedEndpoint> to)
    {
        while (link.TryReceive(Now, out byte[] datagram))
        {
            if (StreamSegment.TryReadStreamId(datagram, out uint id) && id >= 1 && id <= to.Count)
            {
                to[(int)id - 1].Core.HandleSegment(datagram, Now);
            }
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
