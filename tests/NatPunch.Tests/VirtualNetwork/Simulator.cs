using System.Globalization;
using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A deterministic, in-memory network for unit tests: an "internet", hosts with sockets, NAT routers
/// that behave as RFC 4787 describes, lossy and jittery links, and a fake clock. A discrete-event
/// simulation: nothing happens between events, so a minute of simulated time costs microseconds,
/// and one seed always gives the same run (in the spirit of pion/transport's vnet and tailscale's natlab).
/// </summary>
/// <example>
/// Two peers behind different NATs, a STUN server, and protocol cores driven by the simulation:
/// <code>
/// var sim = new Simulator(seed: 1, trace: true);
/// StunServerNode stun = sim.AddStunServer();                          // 4 RFC 5780 addresses, port 3478
/// NatRouter natA = sim.AddNatRouter(NatBehavior.PortRestrictedCone, "natA");
/// NatRouter natB = sim.AddNatRouter(NatBehavior.Symmetric, "natB");
/// natA.Outside.SetConditions(new LinkConditions { Latency = TimeSpan.FromMilliseconds(20), LossRate = 0.01 });
/// VirtualSocket a = natA.AddHost("alice").Bind(5000);                 // 192.168.1.2:5000 behind natA
/// VirtualSocket b = natB.AddHost("bob").Bind(5000);                   // 192.168.1.2:5000 behind natB (same LAN numbering)
/// a.Attach(coreA);                                                    // any IDatagramCore; b.OnReceive(...) for a delegate
/// b.Attach(coreB);
/// sim.RunUntil(() => coreA.IsConnected &amp;&amp; coreB.IsConnected, TimeSpan.FromSeconds(10)).ShouldBeTrue(sim.Trace!.Tail());
/// </code>
/// A core is polled for datagrams when attached, after each datagram it receives and after each
/// wake-up; call <see cref="VirtualSocket.Poll"/> after changing a core from outside (e.g. starting a check).
/// Nesting: <c>sim.AddNatRouter(NatBehavior.Symmetric, "cgn", lan: "100.64.0.0/10").AddNatRouter(NatBehavior.FullCone, "home")</c>.
/// Code written against <see cref="System.TimeProvider"/> can use <see cref="TimeProvider"/>; its timers fire inside the run.
/// </example>
/// <remarks>
/// Single-threaded: everything happens inside <see cref="Step"/>, called by the Run methods. Events at
/// the same time run in the order they were scheduled. All randomness comes from <see cref="Random"/>,
/// seeded by the constructor; a core that needs randomness (transaction ids, tie-breakers) should take
/// it from <see cref="Random"/> too if the test wants byte-identical runs. IPv4 and UDP only; no ICMP,
/// no TTL, no fragmentation.
/// </remarks>
public sealed class Simulator
{
    /// <summary>Events at one instant beyond which a run is declared stuck (a core that never lets time advance).</summary>
    public const int MaxEventsPerInstant = 100_000;

    // Ordered by (time, sequence): equal times keep their scheduling order, which makes runs reproducible.
    private readonly PriorityQueue<Action, (TimeSpan Time, long Sequence)> _events = new();
    private long _sequence;
    private long _lastPacketId;
    private int _eventsAtThisInstant;

    public Simulator(int seed = 1, bool trace = false)
    {
        Seed = seed;
        Random = new Random(seed);
        TimeProvider = new SimulatedTimeProvider(this);
        Trace = trace ? new PacketTrace() : null;
        Internet = new NetworkSegment(this, "internet", new AddressPool("198.18.0.0/15", reserveGateway: false), router: null);
    }

    public int Seed { get; }

    /// <summary>Simulated time since the start of the run.</summary>
    public TimeSpan Now { get; private set; }

    /// <summary>The one source of randomness: loss, jitter, duplication, random NAT ports.</summary>
    public Random Random { get; }

    /// <summary>A <see cref="System.TimeProvider"/> whose clock and timers are this simulation's.</summary>
    public SimulatedTimeProvider TimeProvider { get; }

    /// <summary>The public network. Addresses handed out automatically come from 198.18.0.0/15 (RFC 2544's test range).</summary>
    public NetworkSegment Internet { get; }

    /// <summary>Everything that happened, network-wide.</summary>
    public TrafficCounters Counters { get; } = new();

    /// <summary>The packet trace, when the simulator was created with <c>trace: true</c>.</summary>
    public PacketTrace? Trace { get; }

    /// <summary>Conditions given to new links (both directions) when the caller names none.</summary>
    public LinkConditions DefaultLink { get; set; } = LinkConditions.Perfect;

    /// <summary>Events waiting to run.</summary>
    public int PendingEvents => _events.Count;

    /// <summary>A host on the internet with a public address (given, or the next free one).</summary>
    public VirtualHost AddHost(string? name = null, IPAddress? address = null, LinkConditions? link = null) =>
        Internet.AddHost(name, address, link);

    /// <summary>A NAT router on the internet; put hosts behind it with <see cref="NatRouter.AddHost"/>.</summary>
    public NatRouter AddNatRouter(NatBehavior behavior, string? name = null, IReadOnlyList<IPAddress>? publicAddresses = null,
        string lan = NatRouter.DefaultLan, LinkConditions? link = null) =>
        Internet.AddNatRouter(behavior, name, publicAddresses, lan, link);

    /// <summary>
    /// A STUN server on the internet. With an alternate address (the default picks two free public
    /// addresses) it answers on the four RFC 5780 addresses {primary, alternate} × {port, port+1}.
    /// </summary>
    public StunServerNode AddStunServer(IPAddress? primary = null, IPAddress? alternate = null, int port = 3478,
        string name = "stun", bool behaviorDiscovery = true, LinkConditions? link = null)
    {
        primary ??= Internet.NextFreeAddress();
        if (behaviorDiscovery)
        {
            alternate ??= Internet.NextFreeAddress(except: primary);
        }
        return new StunServerNode(Internet, name, primary, behaviorDiscovery ? alternate : null, port, link);
    }

    /// <summary>A TURN server (the project's core, over UDP) on its own public host.</summary>
    public TurnServerNode AddTurnServer(string name = "turn", int port = 3478, LinkConditions? link = null) =>
        new(this, Internet.AddHost(name, link: link), port);

    /// <summary>Runs <paramref name="action"/> after <paramref name="delay"/> of simulated time (e.g. change a link mid-test).</summary>
    public void Schedule(TimeSpan delay, Action action) => ScheduleAt(Now + delay, action);

    /// <summary>Runs <paramref name="action"/> at <paramref name="time"/>, or now if that has passed.</summary>
    public void ScheduleAt(TimeSpan time, Action action) =>
        _events.Enqueue(action, (time < Now ? Now : time, ++_sequence));

    /// <summary>Runs the next event, moving the clock to its time. False when there is none.</summary>
    public bool Step()
    {
        if (!_events.TryDequeue(out Action? action, out var key))
        {
            return false;
        }
        if (key.Time == Now)
        {
            if (++_eventsAtThisInstant > MaxEventsPerInstant)
            {
                throw new InvalidOperationException(
                    $"More than {MaxEventsPerInstant} events at t={Now}: something keeps scheduling work without letting time advance " +
                    "(a core whose NextWakeUp stays at or before 'now' after HandleTimeout, or two endpoints answering each other with zero latency).");
            }
        }
        else
        {
            _eventsAtThisInstant = 0;
        }
        Now = key.Time;
        action();
        return true;
    }

    /// <summary>Runs every event up to <see cref="Now"/> + <paramref name="duration"/>; the clock ends there.</summary>
    public void RunFor(TimeSpan duration)
    {
        TimeSpan deadline = Now + duration;
        while (_events.TryPeek(out _, out var key) && key.Time <= deadline)
        {
            Step();
        }
        Now = deadline;
    }

    /// <summary>
    /// Runs until <paramref name="condition"/> holds (checked before the first event and after each one)
    /// or <paramref name="limit"/> of simulated time has passed. True if the condition was met; the
    /// clock stays at the moment it was.
    /// </summary>
    public bool RunUntil(Func<bool> condition, TimeSpan limit)
    {
        TimeSpan deadline = Now + limit;
        while (!condition())
        {
            if (!_events.TryPeek(out _, out var key) || key.Time > deadline)
            {
                Now = deadline;
                return condition();
            }
            Step();
        }
        return true;
    }

    /// <summary>
    /// Runs until no event is left, or <paramref name="limit"/> has passed. True if idle. Cores with
    /// keep-alives never go idle, and each live NAT mapping keeps an expiry check pending.
    /// </summary>
    public bool RunUntilIdle(TimeSpan limit) => RunUntil(() => _events.Count == 0, limit);

    internal long NextPacketId() => ++_lastPacketId;

    /// <summary>Counts an event network-wide and at <paramref name="nodeCounters"/>, and traces it.</summary>
    internal void Record(TraceKind kind, string node, Packet? packet, DropReason reason = DropReason.None,
        string? detail = null, TrafficCounters? nodeCounters = null)
    {
        Counters.Count(kind, reason);
        nodeCounters?.Count(kind, reason);
        if (Trace is null)
        {
            return;
        }
        if (packet is not null && kind is TraceKind.Sent && Trace.Describe(packet.Payload) is string description)
        {
            detail = detail is null ? description : $"{detail}; {description}";
        }
        Trace.Add(new TraceEntry(Now, kind, node, packet?.Id ?? 0, packet?.Source, packet?.Destination,
            packet?.Payload.Length ?? 0, reason, detail));
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"Simulator(seed {Seed}, t={Now.TotalSeconds:F6}s, {_events.Count} pending; {Counters})");
}
