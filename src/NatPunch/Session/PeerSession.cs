using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// How one session finds and keeps its path, as a core without I/O, in the shape of quinn-proto's
/// <c>Connection</c>: STUN datagrams, the relay server's messages, the peer's signalling, handshake
/// frames and sealed control messages, and the time go in; datagrams to send (<see cref="TryPollTransmit"/>),
/// events (<see cref="TryPollEvent"/>) and the next wake-up come out. It owns:
/// <list type="bullet">
/// <item>the handshake, the session's keys and path validation (PeerSession.Security.cs);</item>
/// <item>the <see cref="IceAgent"/> (gathering, checks, consent), replaced on each ICE restart;</item>
/// <item>the relay (<see cref="RelayLifecycle"/>), whose candidate it hands to each agent;</item>
/// <item>the path management (<see cref="PathManager"/>): the first attempt and every restart.</item>
/// </list>
/// The driver (<see cref="PeerLink"/> on sockets, the virtual network's peer in tests) does the I/O
/// and the data path: it seals and opens stream data itself (any thread, no hop through the loop)
/// and hands the core the rest.
/// One loop owns it; call <see cref="TryPollTransmit"/> and <see cref="TryPollEvent"/> after every input.
/// </summary>
internal sealed partial class PeerSession
{
    private readonly Func<TimeSpan, IceAgent> _agentFactory;
    private readonly Queue<SessionTransmit> _transmits = new();
    private readonly Queue<SessionEvent> _events = new();
    private readonly Queue<IceEvent> _eventsForPaths = new();
    // The external address a gateway mapped to the socket's port (PeerLink.PortMapping), offered by every agent.
    private IPEndPoint? _mappedAddress;
    // The TCP port's candidates (PeerLink.Tcp), offered by every agent, and the connections open now.
    private (IReadOnlyList<IPEndPoint> Hosts, IPEndPoint? Reflexive)? _tcpCandidates;
    private readonly HashSet<IPEndPoint> _tcpOpen = [];
    private PathManager? _paths;
    private TimeSpan _plainCandidateGrace;
    private TimeSpan? _establishedAt;

    /// <param name="agentFactory">Builds the first agent now, and each restart's.</param>
    public PeerSession(Func<TimeSpan, IceAgent> agentFactory, TimeSpan now)
    {
        _agentFactory = agentFactory;
        Agent = agentFactory(now);
        Flush(now); // the agent's first STUN requests go out now, not with the first timeout's retransmissions
    }

    /// <summary>The agent in use: the first, then each restart's.</summary>
    public IceAgent Agent { get; private set; }

    public RelayLifecycle Relay { get; } = new();

    /// <summary>The restart round in use (0: the introduction's).</summary>
    public int Round => _paths?.Round ?? 0;

    /// <summary>A datagram of the session itself (sealed or handshake), not STUN or TURN: the driver's data path.</summary>
    public static bool IsSessionDatagram(ReadOnlySpan<byte> datagram) =>
        datagram.Length > 0 && datagram[0] is SealedFrame.Marker or HandshakeFrame.Marker;

    public TimeSpan? NextWakeUp =>
        WakeUpTime.Earliest(WakeUpTime.Earliest(Agent.NextWakeUp, Relay.NextWakeUp), WakeUpTime.Earliest(_paths?.NextWakeUp, SecurityWakeUp));

    /// <summary>Whether the peer may still send candidates unsealed: until the session is established, and for a grace after (the peer may get its keys a round trip after us).</summary>
    public bool PlainCandidatesWelcome(TimeSpan now) => _establishedAt is not { } at || now - at < _plainCandidateGrace;

    /// <summary>A STUN datagram from the socket (checks, their answers, the STUN servers').</summary>
    public void HandleStun(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now)
    {
        Agent.HandleDatagram(datagram, from, now);
        Flush(now);
    }

    /// <summary>A message from the server of a relay attempt, that the driver's data path did not take.</summary>
    public void HandleFromRelayServer(RelayAttempt attempt, ReadOnlySpan<byte> message, TimeSpan now)
    {
        Relay.HandleFromServer(attempt, message, now);
        Flush(now);
    }

    public void StartRelay(RelayServer server, TimeSpan now)
    {
        Relay.Start(server, now);
        Flush(now);
    }

    public void UseRelayCredentials(Relay.TurnCredentials credentials, TimeSpan now)
    {
        Relay.UseCredentials(credentials, now);
        Flush(now);
    }

    /// <summary>Deletes the relay's allocations (the session is closing), so the server frees them now rather than at expiry.</summary>
    public void CloseRelay(TimeSpan now)
    {
        Relay.Close(now);
        Flush(now);
    }

    /// <summary>A session datagram for <paramref name="peer"/> through the relay while its channel is not bound yet (a Send indication).</summary>
    public void SendThroughRelay(IPEndPoint peer, ReadOnlySpan<byte> datagram, TimeSpan now)
    {
        Relay.SendFromCandidate(peer, datagram, now);
        Flush(now);
    }

    /// <summary>The TCP connection of a relay attempt is open.</summary>
    public void RelayConnected(RelayAttempt attempt, TimeSpan now)
    {
        Relay.Connected(attempt, now);
        Flush(now);
    }

    /// <summary>The transport of a relay attempt failed (TCP refused or closed).</summary>
    public void RelayAttemptFailed(RelayAttempt attempt, string reason, TimeSpan now)
    {
        Relay.AttemptFailed(attempt, reason, now);
        Flush(now);
    }

    /// <summary>
    /// The introduction: round 0 starts with the peer's offer (checks <paramref name="startIn"/> later) and
    /// the path manager runs from now on; on the first selected pair it runs the handshake <paramref name="newHandshake"/> makes.
    /// </summary>
    /// <param name="startedAt">When the connect started: the first attempt's <paramref name="timeLimit"/> runs from then.</param>
    /// <param name="plainCandidateGrace">How long after establishment the peer's candidates may still come unsealed.</param>
    public void RunPaths(string session, string peer, PeerOffer theirs, TimeSpan startIn, TimeSpan timeLimit, TimeSpan startedAt,
        Func<TimeSpan, SessionHandshake> newHandshake, TimeSpan plainCandidateGrace, TimeSpan now)
    {
        _newHandshake = newHandshake;
        _plainCandidateGrace = plainCandidateGrace;
        _paths = new PathManager(session, peer, timeLimit, startedAt);
        // What came after our offer (relayed candidates: the grant arrives with the registration; a
        // gateway's mapping; a late STUN answer) had no one to go to until now: trickled from the start.
        _paths.Start(theirs, startIn, Agent.CandidatesNotOffered, now);
        Flush(now);
    }

    /// <summary>The peer's signalling (opened, if it was sealed) or the server's word on the session.</summary>
    public void HandleSignal(RendezvousMessage message, TimeSpan now)
    {
        _paths?.HandleSignal(message, now);
        Flush(now);
    }

    public void HandleTimeout(TimeSpan now)
    {
        if (Agent.NextWakeUp is { } due && due <= now)
        {
            Agent.HandleTimeout(now);
        }
        Relay.HandleTimeout(now);
        if (_paths?.NextWakeUp is { } pathsDue && pathsDue <= now)
        {
            _paths.HandleTimeout(now);
        }
        HandleSecurityTimeouts(now);
        Flush(now);
    }

    public bool TryPollTransmit(out SessionTransmit transmit) => _transmits.TryDequeue(out transmit);

    public bool TryPollEvent(out SessionEvent e) => _events.TryDequeue(out e!);

    /// <summary>
    /// Moves what the agent, the relay and the path manager produced until none has anything left (each
    /// may feed another). Every input does it; the driver calls it after touching <see cref="Agent"/>
    /// directly (a regather).
    /// </summary>
    public void Flush(TimeSpan now)
    {
        bool moved = true;
        while (moved)
        {
            moved = false;
            while (Agent.TryPollTransmit(now, out OutgoingDatagram datagram))
            {
                moved = true;
                _transmits.Enqueue(new SessionTransmit(datagram.To, datagram.Payload, null));
            }
            while (Agent.TryPollTcpTransmit(out OutgoingDatagram onTcp))
            {
                moved = true;
                _transmits.Enqueue(new SessionTransmit(onTcp.To, onTcp.Payload, null, Tcp: true));
            }
            while (Agent.TryPollRelayTransmit(out OutgoingDatagram relayed))
            {
                moved = true;
                Relay.SendFromCandidate(relayed.To, relayed.Payload.Span, now);
            }
            while (Relay.TryPollEvent(out RelayEvent relayEvent))
            {
                moved = true;
                HandleRelayEvent(relayEvent, now);
            }
            while (Relay.TryPollTransmit(now, out RelayAttempt attempt, out OutgoingDatagram toServer))
            {
                moved = true;
                _transmits.Enqueue(new SessionTransmit(toServer.To, toServer.Payload, attempt));
            }
            while (Agent.TryPollEvent(out IceEvent e))
            {
                moved = true;
                HandleIceEvent(e, now);
            }
            moved |= DrivePaths(now);
            moved |= FlushHandshake(now);
        }
    }

    private void HandleIceEvent(IceEvent e, TimeSpan now)
    {
        _events.Enqueue(new SessionEvent.Ice(e));
        switch (e)
        {
            case IceEvent.Selected selected:
                RelayAttempt? via = selected.Local.Type == CandidateType.Relayed ? Relay.Current : null;
                if (via is not null)
                {
                    Relay.BindChannel(selected.Remote.EndPoint, now);
                }
                // Reported (to the path manager) once data moved there.
                Select(selected, new SessionPath(selected.Remote.EndPoint, via, selected.Local.IsTcp), now);
                return;
            case IceEvent.ConsentLost when Agent.SelectedPair is { SendsViaRelay: true }:
                Relay.ConfirmIfQuiet(now); // the relay itself may be what died
                break;
        }
        Report(e);
    }

    /// <summary>An agent event for the path manager, once it runs (handled after the agent is flushed: an action may replace the agent).</summary>
    private void Report(IceEvent e)
    {
        if (_paths is not null)
        {
            _eventsForPaths.Enqueue(e);
        }
    }

    private void HandleRelayEvent(RelayEvent e, TimeSpan now)
    {
        switch (e)
        {
            case RelayEvent.CandidateReady ready:
                Agent.AddRelayedCandidate(ready.Allocation.RelayedAddress, ready.Allocation.MappedAddress);
                break;
            case RelayEvent.CandidateWithdrawn withdrawn:
                Agent.RemoveRelayedCandidate(withdrawn.Relayed, withdrawn.Reason);
                break;
            case RelayEvent.Received received when IsSessionDatagram(received.Payload.Span):
                _events.Enqueue(new SessionEvent.RelayedSessionDatagram(received.Attempt, received.Peer, received.Payload));
                break;
            case RelayEvent.Received received when received.Attempt == Relay.Current && IceAgent.IsStun(received.Payload.Span):
                Agent.HandleRelayedDatagram(received.Payload.Span, received.Peer, now);
                break;
            case RelayEvent.Received:
                _events.Enqueue(new SessionEvent.Stray());
                break;
            default:
                _events.Enqueue(new SessionEvent.Relay(e));
                break;
        }
    }

    /// <summary>The external address a gateway mapped to the socket's port: a candidate for this agent and the ones after an ICE restart.</summary>
    public void AddMappedCandidate(IPEndPoint external, TimeSpan now)
    {
        _mappedAddress = external;
        Agent.AddMappedCandidate(external);
        Flush(now);
    }

    /// <summary>The TCP port's candidates (its host addresses, and its address as the STUN server saw it over TCP): for this agent and every later one.</summary>
    public void AddTcpCandidates(IReadOnlyList<IPEndPoint> hosts, IPEndPoint? reflexive, TimeSpan now)
    {
        _tcpCandidates = (hosts, reflexive);
        Agent.AddTcpCandidates(hosts, reflexive);
        Flush(now);
    }

    /// <summary>A STUN message that came on the TCP connection with <paramref name="from"/>.</summary>
    public void HandleTcpStun(ReadOnlySpan<byte> message, IPEndPoint from, TimeSpan now)
    {
        Agent.HandleTcpDatagram(message, from, now);
        Flush(now);
    }

    /// <summary>A TCP connection with the peer's <paramref name="remote"/> opened (punched or accepted).</summary>
    public void TcpConnectionOpened(IPEndPoint remote, TimeSpan now)
    {
        _tcpOpen.Add(remote);
        Agent.TcpConnectionOpened(remote, now);
        Flush(now);
    }

    /// <summary>The TCP connection with <paramref name="remote"/> ended.</summary>
    public void TcpConnectionClosed(IPEndPoint remote, string reason, TimeSpan now)
    {
        _tcpOpen.Remove(remote);
        Agent.TcpConnectionClosed(remote, reason, now);
        Flush(now);
    }

    /// <summary>The driver's traceroute to the peer's public address (clash avoidance) is done.</summary>
    public void RouteTraced(IPAddress peer, RouteToPeer route, TimeSpan now)
    {
        Agent.RouteTraced(peer, route, now);
        Flush(now);
    }

    /// <summary>
    /// Replaces the agent (an ICE restart): the new one, built by <paramref name="agentFactory"/> (by
    /// default the session's), gathers and checks afresh on the same socket.
    /// </summary>
    public void ReplaceAgent(TimeSpan now, Func<TimeSpan, IceAgent>? agentFactory = null)
    {
        SwapAgent(now, agentFactory ?? _agentFactory);
        Flush(now);
    }

    private void SwapAgent(TimeSpan now, Func<TimeSpan, IceAgent> agentFactory)
    {
        Agent = agentFactory(now);
        if (_mappedAddress is { } mapped)
        {
            Agent.AddMappedCandidate(mapped);
        }
        if (_tcpCandidates is { } tcp)
        {
            Agent.AddTcpCandidates(tcp.Hosts, tcp.Reflexive);
            foreach (IPEndPoint open in _tcpOpen)
            {
                Agent.TcpConnectionOpened(open, now); // checked again once the restart's offer is in
            }
        }
        // The allocation outlives agents, but a quiet one may be gone (a restarted server): the
        // new agent gets it at once only if it was heard lately, else once it answers a refresh.
        if (!Relay.ConfirmIfQuiet(now) && Relay.UsableAllocation is { } allocation)
        {
            Agent.AddRelayedCandidate(allocation.RelayedAddress, allocation.MappedAddress);
        }
    }

    /// <summary>Feeds the queued agent events to the path manager, does what it asks and reports what it says. True if anything was done.</summary>
    private bool DrivePaths(TimeSpan now)
    {
        if (_paths is not { } paths)
        {
            return false;
        }
        bool acted = false;
        while (_eventsForPaths.TryDequeue(out IceEvent? e))
        {
            acted = true;
            paths.HandleIceEvent(e, now);
        }
        while (paths.TryPollAction(out PathAction action))
        {
            acted = true;
            switch (action)
            {
                case PathAction.ApplyOffer apply:
                    Agent.ApplyRemoteOffer(apply.Offer, apply.ChecksAt, now);
                    if (paths.Round == 0)
                    {
                        _events.Enqueue(new SessionEvent.Punching(Agent.Pairs.Count));
                    }
                    break;
                case PathAction.AddCandidate add:
                    Agent.AddRemoteCandidates([add.Candidate], now);
                    break;
                case PathAction.NewAgent:
                    SwapAgent(now, _agentFactory);
                    break;
                case PathAction.MakeOffer make:
                    paths.HandleOurOffer(make.Round, Agent.CreateOffer(), now);
                    break;
                case PathAction.StartHandshake:
                    StartHandshake(now);
                    break;
                case PathAction.Send send:
                    // Candidates go plain during the grace, when the peer may not have its keys yet.
                    _events.Enqueue(new SessionEvent.Signal(send.Message, send.Message is CandidateMessage && PlainCandidatesWelcome(now)));
                    break;
            }
        }
        while (paths.TryPollEvent(out PathEvent e))
        {
            acted = true;
            _events.Enqueue(new SessionEvent.PathReport(e, Agent.Pairs.Count));
        }
        return acted;
    }
}
