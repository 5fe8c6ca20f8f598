using System.Globalization;
using NatPunch.Server.Rendezvous;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// A whole introduction in the simulation: a server host on the internet running the STUN node and
/// the rendezvous directory (rendezvous over <see cref="SimulatedTcpConnection"/>s), and two peers,
/// a listener and a connector, each on its own host behind its own router (or both behind one NAT).
/// </summary>
/// <remarks>
/// Latencies are one-way and the same both ways: server host link <see cref="ServerLatency"/>,
/// listener's router WAN link <see cref="ListenerWanLatency"/>, connector's <see cref="ConnectorWanLatency"/>,
/// every host's own link <see cref="HostLatency"/>. Two peers behind one NAT share the listener's WAN link.
/// An impairment (loss, jitter) goes on each peer's host link, both directions: all of that peer's
/// traffic crosses it, STUN and checks alike (the rendezvous connection only takes its jitter: TCP
/// hides loss, at a cost not modelled here).
/// </remarks>
internal sealed class IntroductionScenario
{
    public static readonly TimeSpan ServerLatency = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan ListenerWanLatency = TimeSpan.FromMilliseconds(20);
    public static readonly TimeSpan ConnectorWanLatency = TimeSpan.FromMilliseconds(30);
    public static readonly TimeSpan HostLatency = TimeSpan.FromMilliseconds(1);

    /// <summary>What the introduction may add on top of the round trips (check pacing, the nomination wait, ms rounding of StartInMs).</summary>
    public static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(50);

    public const string ListenerName = "listener";
    public const string ConnectorName = "connector";

    public IntroductionScenario(int seed, NatBehavior listenerNat, NatBehavior connectorNat, bool sameNat = false,
        LinkConditions? impairment = null, IceAgentOptions? options = null, RendezvousOptions? rendezvous = null)
    {
        Simulator = new Simulator(seed, trace: true);
        SameNat = sameNat;
        Stun = Simulator.AddStunServer(link: LinkConditions.WithLatency(ServerLatency));
        Server = new RendezvousServerNode(Simulator, Stun.Host, rendezvous ?? RendezvousOptions.Default, Log);
        // Port probing off: a simulated peer has one socket and opens no extra ones, so a symmetric
        // pair would connect only when a random probe hits that one socket's mapping (1,500 probes
        // in 64,512 ports: a lottery in the tables). Prediction has its own tests (PortPredictionInVirtualNetworkTests).
        // Clash avoidance off: the virtual network has no TTL and no ICMP, so a traceroute would only
        // ever wait (IceAgentClashAvoidanceTests test the agent's side, the lab the whole).
        options = (options ?? IceAgentOptions.Default) with { PortProbing = null, ClashAvoidance = null };
        LinkConditions hostLink = (impairment ?? LinkConditions.Perfect) with { Latency = HostLatency };

        NatRouter listenerRouter = Simulator.AddNatRouter(listenerNat, "nat-listener", link: LinkConditions.WithLatency(ListenerWanLatency));
        NatRouter connectorRouter = sameNat
            ? listenerRouter
            : Simulator.AddNatRouter(connectorNat, "nat-connector", link: LinkConditions.WithLatency(ConnectorWanLatency));
        Listener = new SimulatedPeer(Simulator, ListenerName, listenerRouter.AddHost(ListenerName, link: hostLink), listenerRouter,
            Stun, Server, options, Log);
        Connector = new SimulatedPeer(Simulator, ConnectorName, connectorRouter.AddHost(ConnectorName, link: hostLink), connectorRouter,
            Stun, Server, options, Log);
    }

    public Simulator Simulator { get; }

    /// <summary>The TURN server, once <see cref="AddRelay"/> put one on the internet.</summary>
    public TurnServerNode? Turn { get; private set; }

    /// <summary>A TURN server beside the STUN server (same latency), and both peers allocate a relayed candidate on it now.</summary>
    public TurnServerNode AddRelay()
    {
        Turn = Simulator.AddTurnServer(link: LinkConditions.WithLatency(ServerLatency));
        Listener.StartRelay(Turn);
        Connector.StartRelay(Turn);
        return Turn;
    }

    public StunServerNode Stun { get; }

    public RendezvousServerNode Server { get; }

    public SimulatedPeer Listener { get; }

    public SimulatedPeer Connector { get; }

    public bool SameNat { get; }

    /// <summary>Rendezvous messages and the agents' outcomes, in order, for assertion messages.</summary>
    public List<string> Log { get; } = [];

    /// <summary>The larger of the two peers' configured round-trip times to the server.</summary>
    public TimeSpan ServerRoundTrip => Max(RoundTrip(Listener.Host, Server.Host), RoundTrip(Connector.Host, Server.Host));

    /// <summary>The configured round-trip time between the peers (over the LAN when they share a NAT).</summary>
    public TimeSpan PeerRoundTrip => SameNat
        ? 2 * (Listener.Host.Link.Egress.Latency + Connector.Host.Link.Ingress.Latency)
        : RoundTrip(Listener.Host, Connector.Host);

    /// <summary>One server RTT (the introduction) + two peer RTTs (a check, then the nomination) + <see cref="Slack"/>.</summary>
    public TimeSpan Bound => ServerRoundTrip + 2 * PeerRoundTrip + Slack;

    /// <summary>Both peers gather their candidates from the STUN node.</summary>
    public void Gather()
    {
        Simulator.RunUntil(() => Listener.Agent.GatheringComplete && Connector.Agent.GatheringComplete, TimeSpan.FromSeconds(10))
            .ShouldBeTrue("gathering did not complete\n" + Simulator.Trace!.Tail());
    }

    /// <summary>
    /// The listen/connect flow of the CLI: the listener registers with its offer; the connector
    /// registers, and once registered (its first ping answered) sends connect. Runs until both
    /// peers have selected a pair or failed, or <paramref name="limit"/> passed after the connect.
    /// </summary>
    public ConnectionOutcome ListenAndConnect(TimeSpan limit)
    {
        Gather();
        RegisterAndWait(Listener, withOffer: true);
        RegisterAndWait(Connector, withOffer: false);
        TimeSpan start = Simulator.Now;
        Connector.Connect(ListenerName);
        return Finish(start, limit);
    }

    /// <summary>Both peers registered without offers call each other at the same moment (two connects; the directory merges them).</summary>
    public ConnectionOutcome ConnectEachOther(TimeSpan limit)
    {
        Gather();
        RegisterAndWait(Listener, withOffer: false);
        RegisterAndWait(Connector, withOffer: false);
        TimeSpan start = Simulator.Now;
        Listener.Connect(ConnectorName);
        Connector.Connect(ListenerName);
        return Finish(start, limit);
    }

    /// <summary>Registers and runs until the answer to the server's first ping is on its way (so the server can time an introduction).</summary>
    private void RegisterAndWait(SimulatedPeer peer, bool withOffer)
    {
        peer.Register(withOffer);
        Simulator.RunUntil(() => peer.Registered is not null && peer.FirstPongAt is not null, TimeSpan.FromSeconds(5))
            .ShouldBeTrue($"{peer.Name} did not register\n{string.Join('\n', Log)}");
    }

    private ConnectionOutcome Finish(TimeSpan start, TimeSpan limit)
    {
        bool Settled(SimulatedPeer p) => p.Selected is not null || p.Failed is not null;
        Simulator.RunUntil(() => Settled(Listener) && Settled(Connector), limit);
        return new ConnectionOutcome(this, start);
    }

    /// <summary>Everything useful when an assertion fails: the rendezvous log, the agents' pairs and the end of the packet trace.</summary>
    public string Diagnostics()
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"seed {Simulator.Seed}; server RTT {ServerRoundTrip.TotalMilliseconds} ms, peer RTT {PeerRoundTrip.TotalMilliseconds} ms, bound {Bound.TotalMilliseconds} ms"));
        text.AppendLine(string.Join('\n', Log));
        foreach (SimulatedPeer peer in new[] { Listener, Connector })
        {
            text.AppendLine($"{peer}: controlling={peer.Agent.IsControlling}, checks from {peer.ChecksStartAt}");
            foreach (CandidatePair pair in peer.Agent.Pairs)
            {
                text.AppendLine($"    {pair}");
            }
        }
        text.AppendLine(Simulator.Trace!.Tail(60));
        return text.ToString();
    }

    private static TimeSpan RoundTrip(VirtualHost a, VirtualHost b) => Latency(a, b) + Latency(b, a);

    private static TimeSpan Latency(VirtualHost from, VirtualHost to) =>
        SimulatedTcpConnection.Path(from, to).Aggregate(TimeSpan.Zero, (sum, hop) => sum + hop.Conditions.Latency);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

/// <summary>How an introduction ended, measured from the moment the connect was sent (<see cref="Start"/>).</summary>
internal sealed class ConnectionOutcome(IntroductionScenario scenario, TimeSpan start)
{
    public IntroductionScenario Scenario { get; } = scenario;

    public TimeSpan Start { get; } = start;

    public bool BothSelected => Scenario.Listener.Selected is not null && Scenario.Connector.Selected is not null;

    public bool BothFailed => Scenario.Listener.Failed is not null && Scenario.Connector.Failed is not null;

    /// <summary>From the connect to the moment the second peer selected its pair.</summary>
    public TimeSpan ConnectionTime =>
        BothSelected
            ? (Scenario.Listener.Selected!.Value.At > Scenario.Connector.Selected!.Value.At ? Scenario.Listener.Selected.Value.At : Scenario.Connector.Selected.Value.At) - Start
            : throw new InvalidOperationException("not connected");

    public string Describe() => BothSelected
        ? string.Create(CultureInfo.InvariantCulture, $"{ConnectionTime.TotalMilliseconds:F0} ms")
        : BothFailed ? "failed" : "undecided";
}
