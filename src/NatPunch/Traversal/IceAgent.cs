using System.Net;
using System.Net.Sockets;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.Traversal;

/// <summary>
/// ICE-style connectivity establishment on one UDP socket (ideas of RFC 8445, consent of RFC 7675),
/// as a core without I/O. It gathers a server-reflexive candidate from the very socket that will
/// carry the data, checks every candidate pair in parallel with authenticated STUN Binding requests,
/// learns peer-reflexive candidates, resolves role conflicts by tie-breaker, nominates the best
/// working pair and then keeps checking consent on it.
/// </summary>
/// <remarks>
/// One socket serves every host address (it is bound to the wildcard address), so the local side of
/// a pair is always the host candidate of the remote's address family; local server-reflexive
/// candidates are only advertised, never paired (RFC 8445 §6.1.2.4 replaces them by their base).
/// Application datagrams share the socket; the driver tells them apart with <see cref="IsStun"/>.
/// <para>
/// A relayed candidate (our TURN allocation) is added by the driver once the relay granted it
/// (<see cref="AddRelayedCandidate"/>); the agent pairs it like a host candidate, hands what it
/// sends from it to the driver through <see cref="TryPollRelayTransmit"/>, and is given what came
/// through the relay with <see cref="HandleRelayedDatagram"/>. Direct pairs are preferred: a
/// relayed pair is nominated only when no direct pair can still work or after
/// <see cref="IceAgentOptions.RelayNominationDelay"/>, and while data goes through the relay the
/// direct pairs are checked again every <see cref="IceAgentOptions.UpgradeInterval"/>; the first
/// that works is nominated and replaces the relayed one (a second <see cref="IceEvent.Selected"/>).
/// </para>
/// <para>
/// TCP candidates (IceAgent.Tcp.cs) are the driver's TCP port: the agent asks it to punch connections
/// (<see cref="IceEvent.PunchTcp"/>), checks each connection that opens like a pair, and ranks those
/// pairs below every direct UDP pair and above the relay.
/// </para>
/// </remarks>
public sealed partial class IceAgent : IDatagramCore
{
    private readonly IceAgentOptions _options;
    private readonly ulong _tieBreaker;
    private readonly List<Candidate> _localCandidates = [];
    private readonly Dictionary<AddressFamily, Candidate> _bases = [];
    // How many of _localCandidates (in order) the last offer carried.
    private int _offeredCount;
    private readonly List<CandidatePair> _pairs = [];
    private readonly List<Candidate> _remoteCandidates = [];
    private readonly List<Candidate> _relayedCandidates = [];
    private readonly Queue<OutgoingDatagram> _relayOutgoing = new();
    private readonly Queue<OutgoingDatagram> _tcpOutgoing = new();
    private readonly Dictionary<TransactionId, IceTransaction> _transactions = [];
    private readonly Queue<OutgoingDatagram> _outgoing = new();
    private readonly Queue<IceEvent> _events = new();
    private bool _controlling;
    private IceCredentials? _remote;
    private TimeSpan? _checksStartAt;
    private TimeSpan _nextPacedCheckAt;
    private TimeSpan? _nominateAt;
    private bool _failedReported;
    private bool _checkWindowOver;

    /// <param name="role">Who nominates: the side that asked to connect controls (RFC 8445 §6.1.1).</param>
    /// <param name="local">Our short-term credentials, sent to the peer through the rendezvous.</param>
    /// <param name="hostEndPoints">The socket's port on every local address worth advertising.</param>
    /// <param name="stunServers">Where to learn our server-reflexive address from.</param>
    public IceAgent(IceRole role, IceCredentials local, IReadOnlyList<IPEndPoint> hostEndPoints, IReadOnlyList<IPEndPoint> stunServers,
        IceAgentOptions options, TimeSpan now, ulong? tieBreaker = null)
    {
        _options = options;
        _controlling = role == IceRole.Controlling;
        _tieBreaker = tieBreaker ?? BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        Local = local;
        for (int i = 0; i < hostEndPoints.Count; i++)
        {
            IPEndPoint endPoint = Candidate.Normalize(hostEndPoints[i]);
            uint priority = Candidate.ComputePriority(CandidateType.Host, Candidate.LocalPreference(endPoint.Address, i));
            var host = new Candidate(CandidateType.Host, endPoint, priority, $"h{i}");
            AddLocalCandidate(host);
            if (!_bases.TryGetValue(endPoint.AddressFamily, out Candidate? existing) || existing.Priority < host.Priority)
            {
                _bases[endPoint.AddressFamily] = host;
            }
        }
        _stunServers = stunServers;
        StartGathering(stunServers, now);
    }

    private readonly IReadOnlyList<IPEndPoint> _stunServers;

    /// <summary>
    /// Asks the STUN servers again: keeps the NAT mapping of a waiting peer alive and notices when
    /// it changed (a new server-reflexive candidate is then reported).
    /// </summary>
    public void Regather(TimeSpan now)
    {
        if (GatheringComplete)
        {
            StartGathering(_stunServers, now);
        }
    }

    /// <summary>Our credentials.</summary>
    public IceCredentials Local { get; private set; }

    public bool IsControlling => _controlling;

    public IReadOnlyList<Candidate> LocalCandidates => _localCandidates;

    public IReadOnlyList<CandidatePair> Pairs => _pairs;

    /// <summary>The pair both sides agreed on, once there is one.</summary>
    public CandidatePair? SelectedPair { get; private set; }

    /// <summary>Every local candidate gathered so far, in the rendezvous protocol's form.</summary>
    public PeerOffer CreateOffer()
    {
        _offeredCount = _localCandidates.Count;
        return new(Local.Ufrag, Local.Pwd, _localCandidates.Select(c => c.ToInfo()).ToList(), PeerOffer.MappingName(MappingVaries), MappingPortStep);
    }

    /// <summary>
    /// Candidates gathered since the last <see cref="CreateOffer"/> (all of them if none was made):
    /// a late STUN answer, a gateway's port mapping, a relayed address. The driver trickles them
    /// once the peer's offer is in, since until then no one listens for them.
    /// </summary>
    public IReadOnlyList<Candidate> CandidatesNotOffered => _localCandidates.Skip(_offeredCount).ToList();

    /// <summary>
    /// The peer's offer (its credentials and the candidates that parse), with checks from
    /// <paramref name="checksAt"/>: the introduction's, or a restart's.
    /// </summary>
    public void ApplyRemoteOffer(PeerOffer offer, TimeSpan checksAt, TimeSpan now)
    {
        SetRemoteCredentials(new IceCredentials(offer.Ufrag, offer.Pwd));
        PeerMappingVaries = offer.MappingVaries;
        PeerPortStep = offer.MappingVaries == true ? offer.PortStep : null;
        AddRemoteCandidates(offer.Candidates.Select(c => Candidate.TryFromInfo(c, out Candidate parsed) ? parsed : null).OfType<Candidate>(), now);
        StartChecks(checksAt > now ? checksAt : now);
        StartClashAvoidance(now);
        RequestTcpPunch(_remoteCandidates.Where(c => c.IsTcp).ToList(), checksAt > now ? checksAt : now);
        CheckOpenTcpConnections(now);
    }

    /// <summary>A datagram that the agent must see (STUN, RFC 7983 §7); everything else is application data.</summary>
    public static bool IsStun(ReadOnlySpan<byte> datagram) =>
        StunMessage.LooksLikeStun(datagram)
        && System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]) == StunConstants.MagicCookie;

    /// <summary>Sets the role the rendezvous assigned, before checks start (RFC 8445 §6.1.1).</summary>
    public void SetRole(IceRole role)
    {
        if (_controlling != (role == IceRole.Controlling))
        {
            SwitchRole();
        }
    }

    /// <summary>The peer's credentials, from its offer.</summary>
    public void SetRemoteCredentials(IceCredentials remote) => _remote = remote;

    /// <summary>
    /// The peer's relayed candidates are dropped (<c>--relay never</c>: a path through a relay is not
    /// wanted from either side), and checks from those addresses are not answered, so they cannot
    /// come back as peer-reflexive candidates.
    /// </summary>
    public bool IgnoreRelayedRemotes { get; init; }

    private readonly HashSet<IPEndPoint> _refusedRemotes = [];

    private void RefuseRelayedRemote(IPEndPoint endPoint)
    {
        endPoint = Candidate.Normalize(endPoint);
        _refusedRemotes.Add(endPoint);
        // Its checks may have arrived before the candidate did and made a peer-reflexive pair.
        _pairs.RemoveAll(p => p.Remote.EndPoint.Equals(endPoint) && p != SelectedPair);
        _remoteCandidates.RemoveAll(c => c.EndPoint.Equals(endPoint));
    }
    /// <summary>Signalled candidates ignored because there were already <see cref="IceAgentOptions.MaxRemoteCandidates"/>.</summary>
    public int IgnoredRemoteCandidates { get; private set; }

    /// <summary>Adds the peer's candidates; may be called again as more trickle in.</summary>
    public void AddRemoteCandidates(IEnumerable<Candidate> candidates, TimeSpan now)
    {
        foreach (Candidate candidate in candidates)
        {
            if (IgnoreRelayedRemotes && candidate.Type == CandidateType.Relayed)
            {
                RefuseRelayedRemote(candidate.EndPoint);
                continue;
            }
            if (!_remoteCandidates.Exists(c => c.SameAddress(candidate)))
            {
                if (_remoteCandidates.Count >= _options.MaxRemoteCandidates)
                {
                    IgnoredRemoteCandidates++;
                    continue;
                }
                _remoteCandidates.Add(candidate);
            }
            AddPairs(candidate);
            if (candidate.IsTcp && _checksStartAt is not null)
            {
                RequestTcpPunch([candidate], now); // trickled after the checks began
            }
        }
    }

    /// <summary>Begin checks at <paramref name="startAt"/> (the rendezvous-coordinated moment).</summary>
    public void StartChecks(TimeSpan startAt)
    {
        if (_remote is null)
        {
            throw new InvalidOperationException("Set the remote credentials before starting checks.");
        }
        _checksStartAt = startAt;
        _nextPacedCheckAt = startAt;
    }

    public bool TryPollEvent(out IceEvent e) => _events.TryDequeue(out e!);

    public bool TryPollTransmit(TimeSpan now, out OutgoingDatagram datagram) => _outgoing.TryDequeue(out datagram);

    /// <summary>The next datagram to send from our relayed candidate: the driver sends it to <see cref="OutgoingDatagram.To"/> through the TURN allocation.</summary>
    public bool TryPollRelayTransmit(out OutgoingDatagram datagram) => _relayOutgoing.TryDequeue(out datagram);

    /// <summary>A datagram that arrived straight on the socket.</summary>
    public void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now) => Receive(datagram, from, IceRoute.Socket, now);

    /// <summary>A datagram that <paramref name="from"/> sent to our relayed address, unwrapped by the driver's TURN client.</summary>
    public void HandleRelayedDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now) => Receive(datagram, from, IceRoute.Relay, now);

    /// <summary>A STUN message that came on the TCP connection to <paramref name="from"/>, unframed by the driver.</summary>
    public void HandleTcpDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now) => Receive(datagram, from, IceRoute.Tcp, now);

    private void Receive(ReadOnlySpan<byte> datagram, IPEndPoint from, IceRoute route, TimeSpan now)
    {
        if (!StunMessage.TryParse(datagram, out StunMessage message, out _))
        {
            return;
        }
        from = Candidate.Normalize(from);
        switch (message.Type.Class)
        {
            case StunClass.Request when message.Type.Method == StunMethod.Binding:
                HandleCheckRequest(message, from, route, now);
                break;
            case StunClass.SuccessResponse or StunClass.ErrorResponse:
                if (_transactions.TryGetValue(message.TransactionId, out IceTransaction? transaction) && transaction.Route == route)
                {
                    _transactions.Remove(message.TransactionId);
                    HandleResponse(transaction, message, from, now);
                }
                else if (route == IceRoute.Socket && _probes.TryGetValue(message.TransactionId, out var probe))
                {
                    HandleProbeResponse(message, from, probe, now);
                }
                break;
        }
        ConsiderPortProbing(now); // the mapping test's answer may have been what it waited for
    }

    public TimeSpan? NextWakeUp
    {
        get
        {
            TimeSpan? next = null;
            foreach (IceTransaction transaction in _transactions.Values)
            {
                next = WakeUpTime.Earliest(next, transaction.Schedule.NextWakeUp);
            }
            if (_checksStartAt is not null && SelectedPair is null)
            {
                if (_pairs.Exists(p => p.State == CandidatePairState.Waiting && !Held(p) && !p.IsTcp))
                {
                    next = WakeUpTime.Earliest(next, _nextPacedCheckAt);
                }
                else if (_pairs.Exists(p => p.State == CandidatePairState.Waiting && !p.IsTcp) && HoldWakeUp is { } holdEnds)
                {
                    next = WakeUpTime.Earliest(next, holdEnds > _nextPacedCheckAt ? holdEnds : _nextPacedCheckAt);
                }
            }
            next = WakeUpTime.Earliest(next, _nextUpgradeAt);
            if (_nominateAt is { } nominate)
            {
                next = WakeUpTime.Earliest(next, nominate);
            }
            if (_checksStartAt is { } started && SelectedPair is null && !_failedReported && !_checkWindowOver)
            {
                next = WakeUpTime.Earliest(next, started + _options.CheckTimeout);
            }
            next = WakeUpTime.Earliest(next, PortProbingWakeUp);
            return WakeUpTime.Earliest(next, NextConsentWakeUp);
        }
    }

    public void HandleTimeout(TimeSpan now)
    {
        foreach (IceTransaction transaction in _transactions.Values.ToList())
        {
            StunTransactionStep step = transaction.Schedule.Poll(now);
            if (step.State == StunTransactionState.TimedOut)
            {
                _transactions.Remove(transaction.Id);
                TransactionTimedOut(transaction, now);
            }
            else
            {
                SendStep(transaction, step);
            }
        }
        UpdateHold(now);
        SendPacedCheck(now);
        HandlePortProbingTimeout(now);
        ProbeForUpgrade(now);
        if (_nominateAt is { } nominateAt && now >= nominateAt)
        {
            _nominateAt = null;
            NominateBestValidPair(now);
        }
        CheckConsent(now);
        ReportFailureIfHopeless(now);
    }

    private void TransactionTimedOut(IceTransaction transaction, TimeSpan now)
    {
        switch (transaction.Kind)
        {
            case IceTransactionKind.Gather or IceTransactionKind.MappingTest:
                GatherFinished();
                break;
            case IceTransactionKind.Check when transaction.Pair is { } pair:
                if (pair.State == CandidatePairState.InProgress)
                {
                    pair.State = CandidatePairState.Failed;
                }
                if (transaction.UseCandidate)
                {
                    pair.Nominating = false; // unanswered: a later success may nominate it again
                }
                break;
        }
    }

    private void ReportFailureIfHopeless(TimeSpan now)
    {
        if (_failedReported || SelectedPair is not null || _checksStartAt is not { } started || now < started + _options.CheckTimeout)
        {
            return;
        }
        // From here on the pairs' own deadlines drive the wake-ups; re-checked on each of them.
        _checkWindowOver = true;
        FailUnconnectedTcpPairs();
        bool anyAlive = _pairs.Exists(p => p.State is CandidatePairState.Waiting or CandidatePairState.InProgress or CandidatePairState.Succeeded)
            || ProbingUnderWay(now);
        if (!anyAlive)
        {
            _failedReported = true;
            string reason = _pairs.Count == 0
                ? "no usable candidate pair (no common address family)"
                : $"none of {_pairs.Count} candidate pairs answered within {_options.CheckTimeout.TotalSeconds:0.#} s";
            _events.Enqueue(new IceEvent.Failed(reason));
        }
    }

    private void AddLocalCandidate(Candidate candidate)
    {
        _localCandidates.Add(candidate);
        _events.Enqueue(new IceEvent.CandidateGathered(candidate));
    }

    private void Send(IPEndPoint to, ReadOnlyMemory<byte> datagram, IceRoute route = IceRoute.Socket) =>
        (route switch { IceRoute.Relay => _relayOutgoing, IceRoute.Tcp => _tcpOutgoing, _ => _outgoing }).Enqueue(new OutgoingDatagram(to, datagram));
}
