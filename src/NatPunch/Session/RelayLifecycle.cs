using System.Net;
using NatPunch.Core;
using NatPunch.Relay;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// A session's relay from first allocation to last, as a core without I/O: messages from the TURN
/// server, TCP connections opened or lost, and the time go in; what to send to the server
/// (<see cref="TryPollTransmit"/>) and what to do (<see cref="TryPollEvent"/>) come out.
/// <list type="bullet">
/// <item>The race: UDP first, TCP too when UDP has not been heard within <see cref="RelayServer.TcpAfter"/>
/// (or TCP alone); the first allocation granted wins and the other is closed. A transport that is not
/// granted within <see cref="RelayServer.AllocateTimeout"/> has failed; when all have, the relay cannot be had.</item>
/// <item>Loss: a relay lost mid-session (a 437 to a refresh, no answer, the TCP connection closed) is
/// reported, its candidate withdrawn, and new rounds are allocated on <see cref="RelayRecovery"/>'s back-off.</item>
/// <item>Doubt: a relay quiet for <see cref="RelayServer.QuietAfter"/> is asked whether it still exists
/// (<see cref="ConfirmIfQuiet"/>) before a new agent is given its candidate.</item>
/// </list>
/// One loop owns it; the driver drains transmits and events after every call.
/// </summary>
internal sealed class RelayLifecycle
{
    private readonly List<RelayAttempt> _attempts = [];
    private readonly HashSet<IPAddress> _permissionsAsked = [];
    private readonly RelayRecovery _recovery = new();
    private readonly Queue<RelayEvent> _events = new();
    private RelayServer? _server;
    private TimeSpan? _tcpDueAt;
    private bool _failureReported;

    /// <summary>The allocation in use, once one was granted; null while there is none (not yet, or lost).</summary>
    public RelayAttempt? Current { get; private set; }

    /// <summary>Why the relay cannot be used, once that is known (cleared by a grant).</summary>
    public string? Failure { get; private set; }

    /// <summary>How long a TCP connection to the server may take: the allocation's own time limit.</summary>
    public TimeSpan AllocateTimeout => _server!.AllocateTimeout;

    /// <summary>The allocation a new agent may be given now: granted, and not in doubt.</summary>
    public RelayAllocation? UsableAllocation =>
        Current is { Core.State: TurnClientState.Allocated } current && !_recovery.Confirming ? current.Core.Allocation : null;

    public TimeSpan? NextWakeUp
    {
        get
        {
            TimeSpan? next = WakeUpTime.Earliest(_tcpDueAt, _recovery.NextWakeUp);
            foreach (RelayAttempt attempt in _attempts)
            {
                next = WakeUpTime.Earliest(next, attempt.Core.NextWakeUp);
                if (IsAllocating(attempt))
                {
                    next = WakeUpTime.Earliest(next, attempt.StartedAt + _server!.AllocateTimeout);
                }
            }
            return next;
        }
    }

    /// <summary>Starts allocating on <paramref name="server"/>; a second call is ignored (one relay server per session).</summary>
    public void Start(RelayServer server, TimeSpan now)
    {
        if (_server is not null)
        {
            return;
        }
        _server = server;
        StartRound(now);
    }

    /// <summary>
    /// New credentials for the relay server (a fresh grant: a restarted server has a new secret). The next
    /// allocation uses them, and a round waiting out its back-off starts now. The allocation in use keeps its own.
    /// </summary>
    public void UseCredentials(TurnCredentials credentials, TimeSpan now)
    {
        if (_server is null || _server.Credentials == credentials)
        {
            return;
        }
        _server = _server with { Credentials = credentials };
        _recovery.CredentialsChanged(_server, now);
    }

    /// <summary>The TCP connection of <paramref name="attempt"/> is open: it allocates now.</summary>
    public void Connected(RelayAttempt attempt, TimeSpan now)
    {
        if (_attempts.Contains(attempt) && attempt.Core.State == TurnClientState.Idle && attempt.FailureReason is null)
        {
            attempt.Core.Allocate(now);
        }
    }

    /// <summary>The attempt's transport failed (TCP connection refused or closed): it is over, and if it was the relay, the relay is lost.</summary>
    public void AttemptFailed(RelayAttempt attempt, string reason, TimeSpan now)
    {
        if (attempt.FailureReason is not null || !_attempts.Contains(attempt))
        {
            return;
        }
        attempt.FailureReason = reason;
        if (attempt == Current)
        {
            Lose(attempt, reason, now);
            return;
        }
        if (attempt.Core.State is TurnClientState.Allocating or TurnClientState.Idle)
        {
            attempt.Core.Close(now);
        }
        if (attempt.Transport == TurnServerTransport.Udp && attempt.Heard)
        {
            _tcpDueAt = null; // the server answered and refused (or stopped answering): TCP would fare no better
        }
        else if (attempt.Transport == TurnServerTransport.Udp && Current is null && _server!.Tcp
            && !_attempts.Exists(a => a.Transport == TurnServerTransport.Tcp))
        {
            _tcpDueAt = null;
            StartAttempt(TurnServerTransport.Tcp, now); // UDP never answered: TCP may still get through
        }
        ReportIfRoundFailed(now);
    }

    /// <summary>Once every attempt of the round is over with none granted (and none due): the next round waits longer, or, the first time, the relay cannot be had.</summary>
    private void ReportIfRoundFailed(TimeSpan now)
    {
        bool othersLeft = Current is not null || _tcpDueAt is not null || _attempts.Exists(a => a.FailureReason is null);
        if (othersLeft)
        {
            return;
        }
        if (_recovery.Reallocating)
        {
            _recovery.RoundFailed(_server!, now);
        }
        else if (!_failureReported)
        {
            _failureReported = true;
            // A refusal says more than a timeout of the other transport.
            string why = _attempts.Select(a => a.FailureReason!).OrderBy(r => r.StartsWith("no answer", StringComparison.Ordinal) ? 1 : 0).First();
            Failure = why;
            _events.Enqueue(new RelayEvent.StatusChanged(new RelayStatus.Failed(why)));
        }
    }

    /// <summary>
    /// A message the server sent on <paramref name="attempt"/>'s transport that the data path did not
    /// take: an answer, a Data indication, ChannelData of a channel it does not know.
    /// </summary>
    public void HandleFromServer(RelayAttempt attempt, ReadOnlySpan<byte> message, TimeSpan now)
    {
        if (!_attempts.Contains(attempt))
        {
            return;
        }
        attempt.Heard = true;
        attempt.LastHeardAt = now;
        attempt.Core.HandleDatagram(message, attempt.Server, now);
        while (attempt.Core.TryPollReceived(out TurnDatagram received))
        {
            _events.Enqueue(new RelayEvent.Received(attempt, Candidate.Normalize(received.Peer), received.Payload));
        }
        CheckState(attempt, now);
    }

    /// <summary>Something the agent sends from its relayed candidate: a permission for the peer's IP first (asked once), then a Send indication or ChannelData.</summary>
    public void SendFromCandidate(IPEndPoint peer, ReadOnlySpan<byte> payload, TimeSpan now)
    {
        if (Current is not { Core.State: TurnClientState.Allocated } relay)
        {
            return;
        }
        if (_permissionsAsked.Add(peer.Address))
        {
            relay.Core.CreatePermission(peer.Address, now);
        }
        relay.Core.Send(peer, payload, now);
    }

    /// <summary>A relayed pair to <paramref name="peer"/> was selected: bind a channel so data can skip the Send indications.</summary>
    public void BindChannel(IPEndPoint peer, TimeSpan now)
    {
        if (Current is { Core.State: TurnClientState.Allocated } relay)
        {
            relay.Core.BindChannel(peer, now);
        }
    }

    /// <summary>
    /// Asks the relay whether it still exists (a Refresh) if it has been quiet for
    /// <see cref="RelayServer.QuietAfter"/>: a path through it stopped answering, or a new agent is to get
    /// it. True while that question is open: its candidate is then held back (<see cref="UsableAllocation"/> is null).
    /// </summary>
    public bool ConfirmIfQuiet(TimeSpan now)
    {
        if (Current is not { Core.State: TurnClientState.Allocated } relay)
        {
            return false;
        }
        if (_recovery.ShouldAsk(_server!, relay.LastHeardAt, now))
        {
            relay.Core.RefreshNow(now);
        }
        return _recovery.Confirming;
    }

    public void HandleTimeout(TimeSpan now)
    {
        (bool allocate, bool unanswered) = _recovery.HandleTimeout(now);
        if (allocate)
        {
            StartRound(now);
        }
        if (unanswered && Current is { } current)
        {
            AttemptFailed(current, $"no answer from the TURN server {current.Server} to a refresh within {_server!.ConfirmTimeout.TotalSeconds:0.#} s", now);
        }
        if (_tcpDueAt is { } due && now >= due)
        {
            _tcpDueAt = null;
            // UDP that got any answer works; it is only slow (loss), and TCP would win the race for the
            // wrong reason. TCP is for when the server is not heard at all.
            if (Current is null && !_attempts.Exists(a => a.Transport == TurnServerTransport.Udp && a.Heard))
            {
                StartAttempt(TurnServerTransport.Tcp, now);
            }
            else
            {
                ReportIfRoundFailed(now); // UDP was heard and refused: TCP would be refused the same
            }
        }
        foreach (RelayAttempt attempt in _attempts.ToList())
        {
            if (attempt.Core.NextWakeUp is { } wake && now >= wake)
            {
                attempt.Core.HandleTimeout(now);
            }
            if (IsAllocating(attempt) && now >= attempt.StartedAt + _server!.AllocateTimeout)
            {
                AttemptFailed(attempt, $"no answer from the TURN server {attempt.Server} over {attempt.TransportName} within {_server.AllocateTimeout.TotalSeconds:0} s", now);
            }
            CheckState(attempt, now);
        }
    }

    /// <summary>Deletes every allocation (Refresh with lifetime 0), so the server frees it now rather than at expiry.</summary>
    public void Close(TimeSpan now)
    {
        foreach (RelayAttempt attempt in _attempts)
        {
            attempt.Core.Close(now);
        }
    }

    /// <summary>The next message for a TURN server, and the attempt whose transport carries it.</summary>
    public bool TryPollTransmit(TimeSpan now, out RelayAttempt attempt, out OutgoingDatagram datagram)
    {
        foreach (RelayAttempt candidate in _attempts)
        {
            if (candidate.Core.TryPollTransmit(now, out datagram))
            {
                attempt = candidate;
                return true;
            }
        }
        attempt = null!;
        datagram = default;
        return false;
    }

    public bool TryPollEvent(out RelayEvent e) => _events.TryDequeue(out e!);

    private static bool IsAllocating(RelayAttempt attempt) =>
        attempt.Core.State is TurnClientState.Allocating or TurnClientState.Idle && attempt.FailureReason is null;

    /// <summary>One round of allocating: UDP first, TCP too if UDP stays silent (or TCP alone). Attempts of an earlier round are dropped.</summary>
    private void StartRound(TimeSpan now)
    {
        foreach (RelayAttempt old in _attempts)
        {
            _events.Enqueue(new RelayEvent.Discarded(old));
        }
        _attempts.Clear();
        RelayServer server = _server!;
        if (server.Udp)
        {
            StartAttempt(TurnServerTransport.Udp, now);
        }
        if (server.Tcp)
        {
            if (server.Udp)
            {
                _tcpDueAt = now + server.TcpAfter;
            }
            else
            {
                StartAttempt(TurnServerTransport.Tcp, now);
            }
        }
    }

    private void StartAttempt(TurnServerTransport transport, TimeSpan now)
    {
        var attempt = new RelayAttempt(_server!, transport, now);
        _attempts.Add(attempt);
        attempt.Core.OperationCompleted += result => OperationCompleted(attempt, result);
        _events.Enqueue(new RelayEvent.Started(attempt));
        if (transport == TurnServerTransport.Udp)
        {
            attempt.Core.Allocate(now); // over TCP, once Connected
        }
    }

    /// <summary>The first allocation granted becomes the relay and the others are closed; a refused one is over.</summary>
    private void CheckState(RelayAttempt attempt, TimeSpan now)
    {
        switch (attempt.Core.State)
        {
            case TurnClientState.Allocated when Current is null && attempt.FailureReason is null:
                Current = attempt;
                _tcpDueAt = null;
                attempt.LastHeardAt = now;
                _recovery.Granted();
                Failure = null;
                RelayAllocation allocation = attempt.Core.Allocation!;
                _events.Enqueue(new RelayEvent.CandidateReady(allocation));
                _events.Enqueue(new RelayEvent.StatusChanged(new RelayStatus.Ready(allocation.RelayedAddress, attempt.Server, attempt.Transport)));
                foreach (RelayAttempt other in _attempts)
                {
                    if (other != attempt && other.FailureReason is null)
                    {
                        other.FailureReason = "another transport was faster";
                        other.Core.Close(now);
                    }
                }
                break;
            case TurnClientState.Failed when attempt.FailureReason is null:
                AttemptFailed(attempt, attempt.Core.Error?.Message ?? "the TURN allocation failed", now);
                break;
        }
    }

    private void OperationCompleted(RelayAttempt attempt, TurnOperationResult result)
    {
        // The relay answered a refresh: it is alive, and an agent kept waiting gets its candidate now.
        if (result is { Operation: TurnOperation.Refresh, Succeeded: true } && attempt == Current
            && _recovery.Confirmed() && attempt.Core.Allocation is { } allocation)
        {
            _events.Enqueue(new RelayEvent.CandidateReady(allocation));
        }
        if (result is { Operation: TurnOperation.ChannelBind, Succeeded: true, Peer: { } peer })
        {
            _events.Enqueue(new RelayEvent.ChannelBound(attempt, Candidate.Normalize(peer), result.Channel));
        }
    }

    /// <summary>Reports the loss, withdraws the candidate and schedules the first round of re-allocation.</summary>
    private void Lose(RelayAttempt lost, string reason, TimeSpan now)
    {
        Current = null;
        _permissionsAsked.Clear(); // the next allocation starts without permissions
        Failure = $"the relay was lost: {reason}";
        if (lost.Core.Allocation is { } allocation)
        {
            _events.Enqueue(new RelayEvent.CandidateWithdrawn(allocation.RelayedAddress, Failure));
        }
        _events.Enqueue(new RelayEvent.StatusChanged(new RelayStatus.Lost(Failure)));
        _recovery.Lost(_server!, now);
    }
}
