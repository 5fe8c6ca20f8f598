using System.Globalization;
using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Security;
using NatPunch.Session;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// One peer of an introduction in the simulation, doing what a <c>PeerNode</c> and its session's
/// driver do around the <see cref="IceAgent"/>: gather on the data socket, register with the rendezvous (a listener with
/// its offer, a connector without, then <c>connect</c> with it), and on the introduction run the real
/// <see cref="PathManager"/>: it applies the peer's offer (checks <c>StartInMs</c> later), and once a
/// path is selected, restarts ICE through the rendezvous whenever the path dies, with a new agent on
/// the same socket each round. The handshake is not modelled here (it is proven on real sockets):
/// the first selection establishes the session at once. Events are recorded with their simulated time.
/// </summary>
internal sealed class SimulatedPeer : IDatagramCore
{
    private readonly Simulator _simulator;
    private readonly RendezvousServerNode _server;
    private readonly List<string>? _log;
    private readonly List<(TimeSpan At, IceEvent Event)> _events = [];
    private readonly List<(TimeSpan At, PathEvent Event)> _pathEvents = [];
    private readonly IPEndPoint[] _stunServers;
    private readonly IceAgentOptions _options;
    private SimulatedTcpConnection? _rendezvous;
    private PathManager? _paths;
    private IceRole _role = IceRole.Controlling;

    public SimulatedPeer(Simulator simulator, string name, VirtualHost host, NatRouter router, StunServerNode stun,
        RendezvousServerNode server, IceAgentOptions options, List<string>? log)
    {
        _simulator = simulator;
        _server = server;
        _log = log;
        Name = name;
        Host = host;
        Router = router;
        Socket = host.Bind(5000);
        _stunServers = [stun.Primary];
        _options = options;
        // As PeerAttempt: every agent starts out controlling; the introduction assigns the real role.
        Agent = NewAgent(simulator.Now);
        Socket.Attach(this);
    }

    public string Name { get; }

    public VirtualHost Host { get; }

    /// <summary>The router in front of the host (a <see cref="NatBehavior.NoNat"/> router for a public host).</summary>
    public NatRouter Router { get; }

    public VirtualSocket Socket { get; }

    /// <summary>The agent in use: the introduction's, then each restart's.</summary>
    public IceAgent Agent { get; private set; }

    /// <summary>What the path manager reported: the session's path selections, losses, its end.</summary>
    public IReadOnlyList<(TimeSpan At, PathEvent Event)> PathEvents => _pathEvents;

    /// <summary>The restart round in use (0: the introduction's).</summary>
    public int Round => _paths?.Round ?? 0;

    private IceAgent NewAgent(TimeSpan now) =>
        new(_role, IceCredentials.NewRandom(), [Socket.SourceEndPoint], _stunServers, _options, now, tieBreaker: (ulong)_simulator.Random.NextInt64());

    /// <summary>Apply the role of the introduction (false leaves the agent controlling: a role conflict).</summary>
    public bool ApplyAssignedRole { get; set; } = true;

    /// <summary>Added to the introduction's <c>StartInMs</c> (a peer that starts late).</summary>
    public TimeSpan ExtraStartDelay { get; set; }

    public RegisteredMessage? Registered { get; private set; }

    /// <summary>When the server's first ping was answered (after which the server knows our round-trip time).</summary>
    public TimeSpan? FirstPongAt { get; private set; }

    public TimeSpan? ConnectSentAt { get; private set; }

    public IntroduceMessage? Introduction { get; private set; }

    public TimeSpan? IntroducedAt { get; private set; }

    /// <summary>When checks start: the introduction's arrival + <c>StartInMs</c> (+ <see cref="ExtraStartDelay"/>).</summary>
    public TimeSpan? ChecksStartAt { get; private set; }

    public IReadOnlyList<ErrorMessage> Errors => _errors;

    private readonly List<ErrorMessage> _errors = [];

    public IReadOnlyList<(TimeSpan At, IceEvent Event)> Events => _events;

    public (TimeSpan At, IceEvent.Selected Event)? Selected =>
        _events.Where(e => e.Event is IceEvent.Selected).Select(e => ((TimeSpan, IceEvent.Selected)?)(e.At, (IceEvent.Selected)e.Event)).FirstOrDefault();

    public (TimeSpan At, IceEvent.Failed Event)? Failed =>
        _events.Where(e => e.Event is IceEvent.Failed).Select(e => ((TimeSpan, IceEvent.Failed)?)(e.At, (IceEvent.Failed)e.Event)).FirstOrDefault();

    /// <summary>The address the other peer should see our checks come from: our NAT's public address, or our own when we have no NAT.</summary>
    public IPAddress PublicAddress => Router.IsTranslating ? Router.PublicAddress : Host.Address;

    /// <summary>Connects to the rendezvous and registers, with our offer (a listener) or without (a connector, which offers in its connect).</summary>
    public void Register(bool withOffer)
    {
        // The server sees the TCP connection from the NAT's public address (or ours), on some port of the NAT's choosing.
        var observed = new IPEndPoint(PublicAddress, 40000 + Host.Address.GetAddressBytes()[3]);
        _rendezvous = _server.Open(Name, Host, observed);
        _rendezvous.ClientReceiver = Receive;
        _rendezvous.SendToServer(new RegisterMessage(Name, null, withOffer ? Agent.CreateOffer() : null, Name + "-instance", "matrix-test"));
    }

    /// <summary>Asks to be introduced to <paramref name="peer"/>, offering our candidates.</summary>
    public void Connect(string peer, int waitMs = 10_000)
    {
        ConnectSentAt = _simulator.Now;
        _rendezvous!.SendToServer(new ConnectMessage(peer, waitMs, Agent.CreateOffer()));
    }

    private void Receive(RendezvousMessage message)
    {
        switch (message)
        {
            case RegisteredMessage registered:
                Registered = registered;
                break;
            case PingMessage ping:
                _rendezvous!.SendToServer(new PongMessage(ping.Id));
                FirstPongAt ??= _simulator.Now;
                break;
            case IntroduceMessage introduction:
                Introduced(introduction);
                break;
            case ErrorMessage { Session: not null } error when _paths is not null:
                _paths.HandleSignal(error, _simulator.Now);
                Drive(_simulator.Now);
                Socket.Poll(); // changed from outside the socket's own events: re-read the wake-up
                break;
            case ErrorMessage error:
                _errors.Add(error);
                break;
            case RestartMessage or CandidateMessage or PeerGoneMessage when _paths is not null:
                _paths.HandleSignal(message, _simulator.Now);
                Drive(_simulator.Now);
                Socket.Poll();
                break;
        }
    }

    /// <summary>PeerAttempt.PunchAsync, in the simulation: the real path manager from the introduction on.</summary>
    private void Introduced(IntroduceMessage introduction)
    {
        Introduction = introduction;
        IntroducedAt = _simulator.Now;
        foreach (CandidateInfo info in introduction.Offer.Candidates)
        {
            Candidate.TryFromInfo(info, out _).ShouldBeTrue(info.ToString());
        }
        TimeSpan startIn = TimeSpan.FromMilliseconds(Math.Clamp(introduction.StartInMs, 0, 5000)) + ExtraStartDelay;
        if (ApplyAssignedRole)
        {
            _role = introduction.Role;
            Agent.SetRole(introduction.Role);
        }
        _paths = new PathManager(introduction.Session, introduction.Peer, TimeSpan.FromSeconds(30), _simulator.Now);
        _paths.Start(introduction.Offer, startIn, [], _simulator.Now);
        Drive(_simulator.Now);
        Socket.Poll(); // changed from outside the socket's own events: re-read the wake-up
    }

    /// <summary>Carries out what the path manager asks, as the session's driver does, and records what it reports.</summary>
    private void Drive(TimeSpan now)
    {
        if (_paths is null)
        {
            return;
        }
        while (_paths.TryPollAction(out PathAction action))
        {
            switch (action)
            {
                case PathAction.ApplyOffer apply:
                    ChecksStartAt ??= apply.ChecksAt;
                    Agent.ApplyRemoteOffer(apply.Offer, apply.ChecksAt, now);
                    break;
                case PathAction.AddCandidate add:
                    Agent.AddRemoteCandidates([add.Candidate], now);
                    break;
                case PathAction.NewAgent:
                    Agent = NewAgent(now);
                    break;
                case PathAction.MakeOffer make:
                    _paths.HandleOurOffer(make.Round, Agent.CreateOffer(), now);
                    break;
                case PathAction.StartHandshake:
                    _paths.HandleHandshake(new HandshakeOutcome.Established(SimulatedKey, "not modelled"), now);
                    break;
                case PathAction.Send send:
                    _rendezvous!.SendToServer(send.Message);
                    break;
            }
        }
        while (_paths.TryPollEvent(out PathEvent e))
        {
            _pathEvents.Add((now, e));
            _log?.Add(string.Create(CultureInfo.InvariantCulture, $"{now.TotalMilliseconds,9:F1} ms  path {Name,-9} {e}"));
        }
    }

    private static readonly PeerKey SimulatedKey = PeerIdentity.Generate().PublicKey;

    // IDatagramCore: the agent, with its events recorded as they are raised (a driver's event pump).
    public void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now)
    {
        Agent.HandleDatagram(datagram, from, now);
        DrainEvents(now);
    }

    public bool TryPollTransmit(TimeSpan now, out OutgoingDatagram datagram) => Agent.TryPollTransmit(now, out datagram);

    public TimeSpan? NextWakeUp => WakeUpTime.Earliest(Agent.NextWakeUp, _paths?.NextWakeUp);

    public void HandleTimeout(TimeSpan now)
    {
        if (Agent.NextWakeUp <= now)
        {
            Agent.HandleTimeout(now);
        }
        DrainEvents(now);
        if (_paths?.NextWakeUp <= now)
        {
            _paths.HandleTimeout(now);
            Drive(now);
        }
    }

    private void DrainEvents(TimeSpan now)
    {
        while (Agent.TryPollEvent(out IceEvent e))
        {
            _events.Add((now, e));
            if (e is IceEvent.Selected or IceEvent.Failed)
            {
                _log?.Add(string.Create(CultureInfo.InvariantCulture, $"{now.TotalMilliseconds,9:F1} ms  ice {Name,-9} {e}"));
            }
            _paths?.HandleIceEvent(e, now);
        }
        Drive(now);
    }

    public override string ToString() => $"{Name} ({Router.Behavior.Name}, {Socket.SourceEndPoint})";
}
