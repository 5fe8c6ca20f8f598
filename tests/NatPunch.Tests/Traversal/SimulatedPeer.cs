using System.Globalization;
using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Relay;
using NatPunch.Security;
using NatPunch.Session;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// One peer of an introduction in the simulation: the real session core (<see cref="PeerSession"/>:
/// agent, relay, path management) on a virtual socket, driven as <c>PeerLink</c> drives it on a real
/// one. It gathers, registers with the rendezvous (a listener with its offer, a connector without,
/// then <c>connect</c> with it), optionally allocates a relay on a <see cref="TurnServerNode"/>, and
/// on the introduction runs the session's paths: checks, the Noise handshake, path validation, restarts
/// through the rendezvous, relay loss and re-allocation. Its data path is a minimal one: sealed
/// messages to the current path (<see cref="SendData"/>) and a count of what arrived. Events are
/// recorded with their simulated time.
/// </summary>
internal sealed class SimulatedPeer : IDatagramCore
{
    private readonly Simulator _simulator;
    private readonly RendezvousServerNode _server;
    private readonly List<string>? _log;
    private readonly List<(TimeSpan At, IceEvent Event)> _events = [];
    private readonly List<(TimeSpan At, PathEvent Event)> _pathEvents = [];
    private readonly List<(TimeSpan At, RelayStatus Status)> _relayStatuses = [];
    private readonly IPEndPoint[] _stunServers;
    private readonly IceAgentOptions _options;
    private SimulatedTcpConnection? _rendezvous;
    private IceRole _role = IceRole.Controlling;
    private RelayAttempt? _udpRelay;
    private SessionPath? _dataPath;
    private readonly Queue<OutgoingDatagram> _toPeer = new();

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
        Session = new PeerSession(NewAgent, simulator.Now);
        Socket.Attach(this);
    }

    public string Name { get; }

    public VirtualHost Host { get; }

    /// <summary>The router in front of the host (a <see cref="NatBehavior.NoNat"/> router for a public host).</summary>
    public NatRouter Router { get; }

    public VirtualSocket Socket { get; }

    /// <summary>The session core this peer drives.</summary>
    public PeerSession Session { get; }

    /// <summary>The agent in use: the introduction's, then each restart's.</summary>
    public IceAgent Agent => Session.Agent;

    /// <summary>What the path manager reported: the session's path selections, losses, its end.</summary>
    public IReadOnlyList<(TimeSpan At, PathEvent Event)> PathEvents => _pathEvents;

    /// <summary>What became of the relay: granted, lost, unavailable.</summary>
    public IReadOnlyList<(TimeSpan At, RelayStatus Status)> RelayStatuses => _relayStatuses;

    /// <summary>The restart round in use (0: the introduction's).</summary>
    public int Round => Session.Round;

    /// <summary>The selection data went to last (reported by the path manager once data moved there).</summary>
    public IceEvent.Selected? Path => _pathEvents.Select(e => e.Event).OfType<PathEvent.Connected>().LastOrDefault()?.Selection;

    /// <summary>This peer's long-term key pair.</summary>
    public PeerIdentity Identity { get; } = PeerIdentity.Generate();

    /// <summary>Stream data that arrived sealed and opened.</summary>
    public List<byte[]> DataReceived { get; } = [];

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

    /// <summary>The first attempt failed (no pair worked, the time limit passed).</summary>
    public (TimeSpan At, PathEvent.Failed Event)? Failed =>
        _pathEvents.Where(e => e.Event is PathEvent.Failed).Select(e => ((TimeSpan, PathEvent.Failed)?)(e.At, (PathEvent.Failed)e.Event)).FirstOrDefault();

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

    /// <summary>Allocates a relayed candidate on <paramref name="turn"/> (UDP; the simulation has no TCP to a TURN server).</summary>
    public void StartRelay(TurnServerNode turn, RelayServer? server = null)
    {
        Session.StartRelay(server ?? new RelayServer(turn.EndPoint, turn.Credentials, Udp: true, Tcp: false), _simulator.Now);
        Drive(_simulator.Now);
        Socket.Poll(); // changed from outside the socket's own events: re-read the wake-up
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
            case ErrorMessage error when error.Session is null || Introduction is null:
                _errors.Add(error);
                break;
            case ErrorMessage or RestartMessage or CandidateMessage or PeerGoneMessage:
                Session.HandleSignal(message, _simulator.Now);
                Drive(_simulator.Now);
                Socket.Poll();
                break;
        }
    }

    /// <summary>PeerAttempt.PunchAsync, in the simulation: the session core's paths from the introduction on.</summary>
    private void Introduced(IntroduceMessage introduction)
    {
        Introduction = introduction;
        IntroducedAt = _simulator.Now;
        foreach (CandidateInfo info in introduction.Offer.Candidates)
        {
            Candidate.TryFromInfo(info, out _).ShouldBeTrue(info.ToString());
        }
        TimeSpan startIn = TimeSpan.FromMilliseconds(Math.Clamp(introduction.StartInMs, 0, 5000)) + ExtraStartDelay;
        ChecksStartAt = _simulator.Now + startIn;
        if (ApplyAssignedRole)
        {
            _role = introduction.Role;
            Agent.SetRole(introduction.Role);
        }
        // As PeerAttempt: the controlling side starts the handshake, bound to the session and both ICE credentials.
        bool initiator = Agent.IsControlling;
        var remote = new IceCredentials(introduction.Offer.Ufrag, introduction.Offer.Pwd);
        (IceCredentials first, IceCredentials second) = initiator ? (Agent.Local, remote) : (remote, Agent.Local);
        byte[] prologue = SessionPrologue.Build(introduction.Session, first.Ufrag, first.Pwd, second.Ufrag, second.Pwd);
        Session.RunPaths(introduction.Session, introduction.Peer, introduction.Offer, startIn, TimeSpan.FromSeconds(30), _simulator.Now,
            now => new SessionHandshake(initiator, Identity, expected: null, prologue, authorize: _ => null, now),
            plainCandidateGrace: TimeSpan.Zero, _simulator.Now);
        Drive(_simulator.Now);
        Socket.Poll(); // changed from outside the socket's own events: re-read the wake-up
    }

    /// <summary>Does what the session core asks, as PeerLink does, and records what it reports.</summary>
    private void Drive(TimeSpan now)
    {
        while (Session.TryPollEvent(out SessionEvent e))
        {
            switch (e)
            {
                case SessionEvent.Ice ice:
                    Record(now, ice.Event);
                    break;
                case SessionEvent.DataPath moved:
                    _dataPath = moved.Path;
                    break;
                case SessionEvent.SendToPeer send:
                    SendToPeer(send.Path, send.Frame, now);
                    break;
                case SessionEvent.RelayedSessionDatagram relayed:
                    ReceiveSessionDatagram(relayed.Payload.Span, new SessionPath(relayed.Peer, relayed.Via), now);
                    break;
                case SessionEvent.Signal signal:
                    _rendezvous!.SendToServer(signal.Message);
                    break;
                case SessionEvent.PathReport path:
                    _pathEvents.Add((now, path.Event));
                    _log?.Add(string.Create(CultureInfo.InvariantCulture, $"{now.TotalMilliseconds,9:F1} ms  path {Name,-9} {path.Event}"));
                    break;
                case SessionEvent.Relay { Event: RelayEvent.Started { Attempt.Transport: TurnServerTransport.Udp } started }:
                    _udpRelay = started.Attempt;
                    break;
                case SessionEvent.Relay { Event: RelayEvent.StatusChanged changed }:
                    _relayStatuses.Add((now, changed.Status));
                    _log?.Add(string.Create(CultureInfo.InvariantCulture, $"{now.TotalMilliseconds,9:F1} ms  relay {Name,-8} {changed.Status}"));
                    break;
            }
        }
    }

    private void Record(TimeSpan now, IceEvent e)
    {
        _events.Add((now, e));
        if (e is IceEvent.Selected or IceEvent.Failed)
        {
            _log?.Add(string.Create(CultureInfo.InvariantCulture, $"{now.TotalMilliseconds,9:F1} ms  ice {Name,-9} {e}"));
        }
    }

    /// <summary>Seals <paramref name="data"/> as stream data and sends it on the session's current path (dropped before there is one).</summary>
    public void SendData(byte[] data)
    {
        if (Session.Crypto is { } crypto && Session.Established && _dataPath is { } path)
        {
            byte[] frame = new byte[data.Length + SealedFrame.Overhead];
            int length = crypto.Seal(SessionMessageType.Segment, data, frame, _simulator.Now);
            SendToPeer(path, frame[..length], _simulator.Now);
            Socket.Poll();
        }
    }

    private void SendToPeer(SessionPath path, byte[] frame, TimeSpan now)
    {
        if (path.Via is null)
        {
            _toPeer.Enqueue(new OutgoingDatagram(path.EndPoint, frame));
        }
        else
        {
            Session.SendThroughRelay(path.EndPoint, frame, now); // ChannelData once bound, else a Send indication
        }
    }

    /// <summary>A session datagram, as PeerLink's data path takes it: handshake frames and sealed control messages to the core, stream data counted.</summary>
    private void ReceiveSessionDatagram(ReadOnlySpan<byte> frame, SessionPath from, TimeSpan now)
    {
        if (HandshakeFrame.LooksLikeHandshake(frame))
        {
            Session.HandleHandshakeFrame(frame, now);
            return;
        }
        if (Session.Crypto is not { } crypto || frame.Length < SealedFrame.HeaderLength + SealedFrame.TagLength)
        {
            return;
        }
        byte[] plaintext = new byte[frame.Length - SealedFrame.HeaderLength - SealedFrame.TagLength];
        if (!crypto.TryOpen(frame, plaintext, out SessionMessageType type, out int length))
        {
            return;
        }
        if (type == SessionMessageType.Segment)
        {
            DataReceived.Add(plaintext.AsSpan(1, length).ToArray());
        }
        else
        {
            Session.HandleControl(type, plaintext.AsSpan(1, length), from, now);
        }
    }

    // IDatagramCore: the socket's side of the driver.
    public void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now)
    {
        if (_udpRelay is { } relay && from.Equals(relay.Server))
        {
            Session.HandleFromRelayServer(relay, datagram, now);
        }
        else if (PeerSession.IsSessionDatagram(datagram))
        {
            ReceiveSessionDatagram(datagram, new SessionPath(from, null), now);
        }
        else
        {
            Session.HandleStun(datagram, from, now);
        }
        Drive(now);
    }

    public bool TryPollTransmit(TimeSpan now, out OutgoingDatagram datagram)
    {
        Drive(now); // an event may make more to send (a selection moved, a signal answered)
        if (_toPeer.TryDequeue(out datagram))
        {
            return true;
        }
        if (Session.TryPollTransmit(out SessionTransmit transmit))
        {
            // Over UDP a relay attempt's server is reached from the same socket.
            datagram = new OutgoingDatagram(transmit.To, transmit.Payload);
            return true;
        }
        datagram = default;
        return false;
    }

    public TimeSpan? NextWakeUp => Session.NextWakeUp;

    /// <summary>How often the core was woken by its timer.</summary>
    public int WakeUps { get; private set; }

    public void HandleTimeout(TimeSpan now)
    {
        WakeUps++;
        Session.HandleTimeout(now);
        Drive(now);
    }

    public override string ToString() => $"{Name} ({Router.Behavior.Name}, {Socket.SourceEndPoint})";
}
