using NatPunch.Protocol.Rendezvous;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// Path management of one session, as a core without I/O: the first attempt (round 0, the
/// introduction's offers) and every ICE restart after it go through the same rounds. In go the
/// agent's events, the peer's signalling (already opened, <see cref="SessionSignals"/>), the
/// handshake's outcome, our new offers and the time; out come <see cref="PathAction"/>s for the
/// driver to carry out on the agent, the link and the rendezvous, <see cref="PathEvent"/>s, and
/// <see cref="NextWakeUp"/>.
/// <para>
/// A round: a fresh agent gathers (round 0's gathered before the introduction), each side sends its
/// offer (round 0: through the introduction; later: a <see cref="RestartMessage"/>), checks start once
/// both offers are known, and the first selected pair carries the session. The first selection of
/// the session starts the handshake, and the session is reported only once it has proven the peer's
/// key. After that, a lost path (consent, or a relay lost under it) starts the next round.
/// </para>
/// <para>
/// Rounds are numbered (<see cref="RestartMessage.Round"/>): both peers often notice a dead path at
/// the same moment, and each side's checks can fail and restart again at its own time, so offers
/// cross. A higher round than ours is a new restart, which we join; our own round is the peer's
/// agent for the round we are in (taken once); a lower round is stale. Without numbers an answer
/// looked like a new restart, and two peers could restart each other forever.
/// </para>
/// <para>
/// A peer that left the rendezvous for good (<see cref="PeerGoneMessage"/>, or the server answering
/// that the session has ended) cannot answer a restart: the session ends, with that reason, as soon
/// as the path is lost (at once if it already is). While the path works the data goes on.
/// </para>
/// </summary>
internal sealed class PathManager
{
    /// <summary>A restart offer not answered within this is sent again (the rendezvous may have been reconnecting).</summary>
    public static readonly TimeSpan RestartResend = TimeSpan.FromSeconds(3);

    private readonly string _session;
    private readonly string _peer;
    private readonly Queue<PathAction> _actions = new();
    private readonly Queue<PathEvent> _events = new();
    private readonly TimeSpan _firstDeadline;
    private readonly TimeSpan _startedAt;

    // The round of the agent in use: 0 is the introduction's, each restart a higher one.
    private int _round;
    // In a round that has not selected a pair yet (round 0 until the session is established).
    private bool _inRound = true;
    private bool _gathered = true;
    private PeerOffer? _ourOffer;
    private PeerOffer? _theirOffer;
    private bool _checksStarted;
    private TimeSpan _roundStartedAt;
    private TimeSpan _offerSentAt;
    private TimeSpan _lastSelectedAt;
    private IceEvent.Selected? _selected;
    private bool _handshakeStarted;
    private bool _established;
    // Set when the rendezvous says the peer left: a lost path then ends the session instead of restarting.
    private string? _peerLeft;
    private bool _over;

    /// <param name="timeLimit">How long the first attempt may take, from <paramref name="startedAt"/> (the start of the connect).</param>
    public PathManager(string session, string peer, TimeSpan timeLimit, TimeSpan startedAt)
    {
        _session = session;
        _peer = peer;
        _startedAt = startedAt;
        _roundStartedAt = startedAt;
        _firstDeadline = startedAt + timeLimit;
    }

    /// <summary>The session has proven the peer's key on a path.</summary>
    public bool Established => _established;

    /// <summary>The first attempt failed or the session ended: nothing more will happen.</summary>
    public bool Over => _over;

    /// <summary>The restart round in use (0: the introduction's).</summary>
    public int Round => _round;

    /// <summary>
    /// Round 0: the introduction. Applies the peer's offer (checks start <paramref name="startIn"/>
    /// later, as the server timed it) and trickles what we learnt after our offer went out.
    /// </summary>
    public void Start(PeerOffer theirs, TimeSpan startIn, IEnumerable<Candidate> lateCandidates, TimeSpan now)
    {
        _theirOffer = theirs;
        _checksStarted = true;
        _actions.Enqueue(new PathAction.ApplyOffer(theirs, now + startIn));
        foreach (Candidate candidate in lateCandidates)
        {
            _actions.Enqueue(new PathAction.Send(new CandidateMessage(_session, candidate.ToInfo())));
        }
    }

    public void HandleIceEvent(IceEvent e, TimeSpan now)
    {
        if (_over)
        {
            return;
        }
        switch (e)
        {
            case IceEvent.ConsentLost or IceEvent.PathLost when _established && _peerLeft is not null:
                End(_peerLeft);
                break;
            case IceEvent.ConsentLost lost when _established && !_inRound:
                _events.Enqueue(new PathEvent.Lost($"no answer from the peer at {lost.Remote} for {lost.Silence.TotalSeconds:0.#} s; re-establishing through the rendezvous"));
                BeginRound(_round + 1, now);
                break;
            case IceEvent.PathLost lost when _established && !_inRound:
                _events.Enqueue(new PathEvent.Lost($"{lost.Reason}; re-establishing through the rendezvous"));
                BeginRound(_round + 1, now);
                break;
            case IceEvent.Failed failed when !_established:
                Fail(PathFailure.NoPath, failed.Reason);
                break;
            case IceEvent.Failed when _inRound && _checksStarted:
                // Nothing worked this round: try again with a fresh gathering. (Before checks start in
                // this round a Failed can only be the replaced agent's, already in the queue.)
                BeginRound(_round + 1, now);
                break;
            case IceEvent.GatheringComplete when _inRound && !_gathered:
                _gathered = true;
                _actions.Enqueue(new PathAction.MakeOffer(_round));
                break;
            case IceEvent.Selected selected:
                Select(selected, now);
                break;
            case IceEvent.CandidateGathered gathered when gathered.Candidate.Type is CandidateType.ServerReflexive or CandidateType.Relayed
                                                          && (!_inRound || _gathered):
                // Learnt after our offer went out: trickle it (the offer of a round in progress carries the rest).
                _actions.Enqueue(new PathAction.Send(new CandidateMessage(_session, gathered.Candidate.ToInfo())));
                break;
        }
    }

    /// <summary>Our offer for round <paramref name="round"/>, made by the agent after it gathered (<see cref="PathAction.MakeOffer"/>).</summary>
    public void HandleOurOffer(int round, PeerOffer offer, TimeSpan now)
    {
        if (_over || round != _round || !_inRound)
        {
            return; // a round that was overtaken meanwhile
        }
        _ourOffer = offer;
        SendOffer(now);
        StartChecksIfReady(now);
    }

    /// <summary>What the peer (or the server) said through the rendezvous, after <see cref="SessionSignals.Open"/>.</summary>
    public void HandleSignal(RendezvousMessage message, TimeSpan now)
    {
        if (_over)
        {
            return;
        }
        switch (message)
        {
            case RestartMessage restart when _established:
                PeerRestarted(restart.Offer, restart.Round, now);
                break;
            case CandidateMessage trickled when Candidate.TryFromInfo(trickled.Candidate, out Candidate candidate):
                // A late candidate (a relay granted late, a new mapping while on the relay): more pairs to try.
                _actions.Enqueue(new PathAction.AddCandidate(candidate));
                break;
            case PeerGoneMessage gone when !_established:
                Fail(PathFailure.PeerLeft, $"'{_peer}' left during the introduction: {gone.Reason}");
                break;
            case PeerGoneMessage gone:
                PeerLeft($"'{gone.Peer}' left the rendezvous: {gone.Reason}");
                break;
            case ErrorMessage { Code: RendezvousErrorCodes.PeerGone } error when _established:
                PeerLeft($"the rendezvous server no longer knows this session ({error.Message})");
                break;
            // Other errors for the session change nothing: a restart offer is sent again until answered.
        }
    }

    /// <summary>The handshake on the first selected path ended.</summary>
    public void HandleHandshake(HandshakeOutcome outcome, TimeSpan now)
    {
        if (_over || _established)
        {
            return;
        }
        switch (outcome)
        {
            case HandshakeOutcome.Established established:
                _established = true;
                _inRound = false;
                _lastSelectedAt = now;
                _events.Enqueue(new PathEvent.Connected(_selected!, now - _startedAt, established.PeerKey, First: true));
                break;
            case HandshakeOutcome.Failed failed:
                Fail(failed.KeyRefused ? PathFailure.KeyRefused : PathFailure.Handshake,
                    failed.KeyRefused ? failed.Reason : $"no secure session with '{_peer}': {failed.Reason}");
                break;
        }
    }

    public TimeSpan? NextWakeUp =>
        _over ? null
        : !_established ? _firstDeadline
        : WaitingForTheirOffer ? _offerSentAt + RestartResend
        : null;

    /// <summary>A restart round whose offer we sent and the peer has not answered (it is sent again).</summary>
    private bool WaitingForTheirOffer => _established && _inRound && _ourOffer is not null && _theirOffer is null;

    public void HandleTimeout(TimeSpan now)
    {
        if (_over)
        {
            return;
        }
        if (!_established && now >= _firstDeadline)
        {
            Fail(PathFailure.Timeout, $"no path to '{_peer}' within {(_firstDeadline - _startedAt).TotalSeconds:0} s");
            return;
        }
        if (WaitingForTheirOffer && now - _offerSentAt >= RestartResend)
        {
            SendOffer(now);
        }
    }

    public bool TryPollAction(out PathAction action) => _actions.TryDequeue(out action!);

    public bool TryPollEvent(out PathEvent e) => _events.TryDequeue(out e!);

    private void Select(IceEvent.Selected selected, TimeSpan now)
    {
        _selected = selected;
        if (!_established)
        {
            // The first path: prove both keys on it before any data moves (and report it once that is done).
            if (!_handshakeStarted)
            {
                _handshakeStarted = true;
                _actions.Enqueue(new PathAction.StartHandshake());
            }
            return;
        }
        // After a restart, or an upgrade from the relay to a direct pair of the same agent.
        TimeSpan took = now - (_inRound ? _roundStartedAt : _lastSelectedAt);
        _inRound = false;
        _lastSelectedAt = now;
        _events.Enqueue(new PathEvent.Connected(selected, took, null, First: false));
    }

    private void BeginRound(int round, TimeSpan now)
    {
        _round = round;
        _inRound = true;
        _gathered = false;
        _checksStarted = false;
        _ourOffer = null;
        _theirOffer = null;
        _roundStartedAt = now;
        _actions.Enqueue(new PathAction.NewAgent());
    }

    private void PeerRestarted(PeerOffer offer, int round, TimeSpan now)
    {
        _peerLeft = null; // it is evidently back
        if (round <= 0)
        {
            // A peer without rounds: a new restart unless we are waiting for its offer.
            round = _inRound && !_checksStarted ? _round : _round + 1;
        }
        if (round < _round)
        {
            return; // stale: the peer will join our later round when our offer reaches it
        }
        if (round == _round)
        {
            // The peer's agent of the round we are in (we both began it, or it answers ours). A second
            // copy (a resend that crossed ours) or one after we selected changes nothing.
            if (_inRound && _theirOffer is null)
            {
                _theirOffer = offer;
                StartChecksIfReady(now);
            }
            return;
        }
        // A newer round: the peer noticed first, or restarted again; join it with an agent of our own.
        if (!_inRound)
        {
            _events.Enqueue(new PathEvent.Lost("the peer is re-establishing the path"));
        }
        BeginRound(round, now);
        _theirOffer = offer;
        StartChecksIfReady(now);
    }

    private void StartChecksIfReady(TimeSpan now)
    {
        if (!_gathered || _theirOffer is not { } offer || _checksStarted)
        {
            return;
        }
        _checksStarted = true;
        _actions.Enqueue(new PathAction.ApplyOffer(offer, now));
    }

    private void SendOffer(TimeSpan now)
    {
        if (_ourOffer is not null)
        {
            _offerSentAt = now;
            _actions.Enqueue(new PathAction.Send(new RestartMessage(_session, _ourOffer, _round)));
        }
    }

    /// <summary>The rendezvous says the peer is gone: nobody will answer a restart.</summary>
    private void PeerLeft(string reason)
    {
        _peerLeft = reason;
        if (_inRound)
        {
            End(reason);
        }
    }

    private void End(string reason)
    {
        _over = true;
        _events.Enqueue(new PathEvent.Ended(reason));
    }

    private void Fail(PathFailure failure, string reason)
    {
        _over = true;
        _events.Enqueue(new PathEvent.Failed(failure, reason));
    }
}

/// <summary>What the driver of a <see cref="PathManager"/> does for it.</summary>
internal abstract record PathAction
{
    private PathAction()
    {
    }

    /// <summary>Give the agent the peer's credentials and candidates and start checks at <paramref name="ChecksAt"/>.</summary>
    public sealed record ApplyOffer(PeerOffer Offer, TimeSpan ChecksAt) : PathAction;

    /// <summary>One more remote candidate for the agent in use.</summary>
    public sealed record AddCandidate(Candidate Candidate) : PathAction;

    /// <summary>Replace the agent: it gathers afresh on the same socket (an ICE restart).</summary>
    public sealed record NewAgent : PathAction;

    /// <summary>Ask the agent for its offer and hand it to <see cref="PathManager.HandleOurOffer"/>.</summary>
    public sealed record MakeOffer(int Round) : PathAction;

    /// <summary>Start the handshake on the selected path; its outcome goes to <see cref="PathManager.HandleHandshake"/>.</summary>
    public sealed record StartHandshake : PathAction;

    /// <summary>Send this to the peer through the rendezvous (sealed once the session has keys).</summary>
    public sealed record Send(RendezvousMessage Message) : PathAction;
}

/// <summary>What a <see cref="PathManager"/> reports.</summary>
internal abstract record PathEvent
{
    private PathEvent()
    {
    }

    /// <summary>
    /// <paramref name="Selection"/> carries the session: the first time (<paramref name="First"/>) once the
    /// handshake proved <paramref name="PeerKey"/>; afterwards each restart's or upgrade's pair.
    /// </summary>
    public sealed record Connected(IceEvent.Selected Selection, TimeSpan Took, PeerKey? PeerKey, bool First) : PathEvent;

    /// <summary>The path died; a new round is under way.</summary>
    public sealed record Lost(string Reason) : PathEvent;

    /// <summary>The peer left for good and the path is gone: the session is over.</summary>
    public sealed record Ended(string Reason) : PathEvent;

    /// <summary>The first attempt failed.</summary>
    public sealed record Failed(PathFailure Failure, string Reason) : PathEvent;
}

/// <summary>Why a first attempt failed.</summary>
internal enum PathFailure
{
    NoPath,
    Timeout,
    PeerLeft,
    Handshake,
    KeyRefused,
}
