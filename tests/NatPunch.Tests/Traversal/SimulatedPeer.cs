using System.Globalization;
using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// One peer of an introduction in the simulation, doing what <c>PeerConnector</c> does around its
/// <see cref="IceAgent"/>: gather on the data socket, register with the rendezvous (a listener with
/// its offer, a connector without, then <c>connect</c> with it), and on the introduction set the
/// role, the peer's credentials and candidates and start checks <c>StartInMs</c> later. The agent's
/// events are recorded with the simulated time they were raised at.
/// </summary>
internal sealed class SimulatedPeer : IDatagramCore
{
    private readonly Simulator _simulator;
    private readonly RendezvousServerNode _server;
    private readonly List<string>? _log;
    private readonly List<(TimeSpan At, IceEvent Event)> _events = [];
    private SimulatedTcpConnection? _rendezvous;

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
        // As PeerConnector: every agent starts out controlling; the introduction assigns the real role.
        Agent = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [Socket.SourceEndPoint], [stun.Primary],
            options, simulator.Now, tieBreaker: (ulong)simulator.Random.NextInt64());
        Socket.Attach(this);
    }

    public string Name { get; }

    public VirtualHost Host { get; }

    /// <summary>The router in front of the host (a <see cref="NatBehavior.NoNat"/> router for a public host).</summary>
    public NatRouter Router { get; }

    public VirtualSocket Socket { get; }

    public IceAgent Agent { get; }

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
            case ErrorMessage error:
                _errors.Add(error);
                break;
        }
    }

    /// <summary>PeerConnector.PunchAsync, in the simulation.</summary>
    private void Introduced(IntroduceMessage introduction)
    {
        Introduction = introduction;
        IntroducedAt = _simulator.Now;
        var remote = new List<Candidate>();
        foreach (CandidateInfo info in introduction.Offer.Candidates)
        {
            Candidate.TryFromInfo(info, out Candidate candidate).ShouldBeTrue(info.ToString());
            remote.Add(candidate);
        }
        TimeSpan startIn = TimeSpan.FromMilliseconds(Math.Clamp(introduction.StartInMs, 0, 5000)) + ExtraStartDelay;
        if (ApplyAssignedRole)
        {
            Agent.SetRole(introduction.Role);
        }
        Agent.SetRemoteCredentials(new IceCredentials(introduction.Offer.Ufrag, introduction.Offer.Pwd));
        Agent.AddRemoteCandidates(remote, _simulator.Now);
        ChecksStartAt = _simulator.Now + startIn;
        Agent.StartChecks(ChecksStartAt.Value);
        Socket.Poll(); // changed from outside the socket's own events: re-read the wake-up
    }

    // IDatagramCore: the agent, with its events recorded as they are raised (a driver's event pump).
    public void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now)
    {
        Agent.HandleDatagram(datagram, from, now);
        DrainEvents(now);
    }

    public bool TryPollTransmit(TimeSpan now, out OutgoingDatagram datagram) => Agent.TryPollTransmit(now, out datagram);

    public TimeSpan? NextWakeUp => Agent.NextWakeUp;

    public void HandleTimeout(TimeSpan now)
    {
        Agent.HandleTimeout(now);
        DrainEvents(now);
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
        }
    }

    public override string ToString() => $"{Name} ({Router.Behavior.Name}, {Socket.SourceEndPoint})";
}
