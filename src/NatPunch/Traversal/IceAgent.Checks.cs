using System.Buffers.Binary;
using System.Net;
using System.Text;
using NatPunch.Core;
using NatPunch.Protocol.Stun;

namespace NatPunch.Traversal;

public sealed partial class IceAgent
{
    /// <summary>
    /// Pairs a remote candidate with each local candidate that can reach it: the host base and our
    /// relayed candidates of its family, or for a TCP candidate our TCP base.
    /// </summary>
    private void AddPairs(Candidate remote)
    {
        if (_pairs.Count >= _options.MaxPairs)
        {
            return;
        }
        if (remote.IsTcp)
        {
            if (_tcpBases.TryGetValue(remote.Family, out Candidate? tcpBase))
            {
                AddPair(tcpBase, remote);
            }
            return;
        }
        if (_bases.TryGetValue(remote.Family, out Candidate? host))
        {
            AddPair(host, remote);
        }
        foreach (Candidate relayed in _relayedCandidates)
        {
            if (relayed.Family == remote.Family)
            {
                AddPair(relayed, remote);
            }
        }
    }

    private CandidatePair AddPair(Candidate local, Candidate remote)
    {
        CandidatePair? existing = FindPair(local, remote.EndPoint);
        if (existing is not null)
        {
            // A peer-reflexive candidate signalled later under its real type (often the peer's relayed
            // address, whose checks arrived before its trickled candidate) takes that type: a relayed
            // path must not pass for a direct one.
            if (existing.Remote.Type == CandidateType.PeerReflexive && remote.Type != CandidateType.PeerReflexive)
            {
                existing.Remote = remote;
                existing.UpdatePriority(_controlling);
                _pairs.Sort((a, b) => b.Priority.CompareTo(a.Priority));
            }
            return existing;
        }
        var pair = new CandidatePair(local, remote, _controlling);
        int index = _pairs.FindIndex(p => p.Priority < pair.Priority);
        _pairs.Insert(index < 0 ? _pairs.Count : index, pair);
        return pair;
    }

    private CandidatePair? FindPair(Candidate local, IPEndPoint remote) =>
        _pairs.Find(p => ReferenceEquals(p.Local, local) && p.Remote.EndPoint.Equals(remote));

    /// <summary>The local candidate a datagram arrived at: our relayed address if it came through the relay, the TCP base on a TCP connection, else the socket's base.</summary>
    private Candidate? LocalFor(IPEndPoint from, IceRoute route) => route switch
    {
        IceRoute.Relay => _relayedCandidates.Find(c => c.Family == from.AddressFamily),
        IceRoute.Tcp => _tcpBases.GetValueOrDefault(from.AddressFamily),
        _ => _bases.GetValueOrDefault(from.AddressFamily),
    };

    /// <summary>Starts the next waiting pair, highest priority first, one per pacing interval.</summary>
    private void SendPacedCheck(TimeSpan now)
    {
        if (_checksStartAt is null || SelectedPair is not null || now < _nextPacedCheckAt)
        {
            return;
        }
        CandidatePair? next = _pairs.Find(p => p.State == CandidatePairState.Waiting && !Held(p) && !p.IsTcp);
        if (next is not null)
        {
            StartCheck(next, useCandidate: false, now);
            _nextPacedCheckAt = now + _options.CheckPacing;
        }
    }

    private void StartCheck(CandidatePair pair, bool useCandidate, TimeSpan now, TimeSpan? timeout = null)
    {
        if (_remote is null)
        {
            return;
        }
        pair.FirstCheckAt ??= now;
        if (pair.State == CandidatePairState.Waiting || pair.State == CandidatePairState.Failed)
        {
            pair.State = CandidatePairState.InProgress;
        }
        var id = TransactionId.NewRandom();
        StartTransaction(new IceTransaction
        {
            Id = id,
            Kind = IceTransactionKind.Check,
            Destination = pair.Remote.EndPoint,
            Schedule = IceTransaction.Scheduled(BuildCheck(id, pair, useCandidate), _options.InitialCheckRetransmit, _options.MaxCheckRetransmit,
                timeout is { } limit ? now + limit : useCandidate ? now + _options.CheckTimeout : pair.FirstCheckAt.Value + _options.CheckTimeout),
            Pair = pair,
            UseCandidate = useCandidate,
            SentAsControlling = _controlling,
        }, now);
    }

    /// <summary>A connectivity check (RFC 8445 §7.2.2): USERNAME "remote:local", PRIORITY, role, optional USE-CANDIDATE, integrity, fingerprint.</summary>
    private byte[] BuildCheck(TransactionId id, CandidatePair pair, bool useCandidate) => BuildCheck(id, pair.Local, pair.SendsViaRelay, useCandidate);

    private byte[] BuildCheck(TransactionId id, Candidate local, bool sendsViaRelay, bool useCandidate)
    {
        var buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, id);
        builder.AddString(StunAttributeType.Username, $"{_remote!.Ufrag}:{Local.Ufrag}");
        int localPreference = (int)((local.Priority >> 8) & 0xFFFF);
        // RFC 8445 §7.1.1 asks for a peer-reflexive priority. From our relayed candidate we send the
        // relayed type preference (0) instead: should the peer learn our relayed address from this
        // check before our trickled candidate arrives, its peer-reflexive candidate then ranks, and
        // is reported, as relayed (see Candidate.IsRelayed) rather than passing for a direct path.
        CandidateType asType = sendsViaRelay ? CandidateType.Relayed : CandidateType.PeerReflexive;
        builder.AddUInt32(StunAttributeType.Priority, Candidate.ComputePriority(asType, localPreference, local.Transport));
        builder.AddUInt64(_controlling ? StunAttributeType.IceControlling : StunAttributeType.IceControlled, _tieBreaker);
        if (useCandidate)
        {
            builder.AddEmpty(StunAttributeType.UseCandidate);
        }
        builder.AddMessageIntegrity(Encoding.UTF8.GetBytes(_remote.Pwd));
        builder.AddFingerprint();
        return builder.Written.ToArray();
    }

    /// <summary>Answers a check from the peer (RFC 8445 §7.3) and sends a triggered check back.</summary>
    private void HandleCheckRequest(StunMessage request, IPEndPoint from, IceRoute route, TimeSpan now)
    {
        if (!request.VerifyFingerprint() || !request.TryGetString(StunAttributeType.Username, out string username))
        {
            return; // not an ICE check: no FINGERPRINT or no USERNAME
        }
        if (LocalFor(from, route) is not { } local || (route != IceRoute.Tcp && _refusedRemotes.Contains(from)))
        {
            return; // arrived where we offer no candidate (e.g. straight on the socket with --relay only)
        }
        byte[] localKey = Encoding.UTF8.GetBytes(Local.Pwd);
        if (!username.StartsWith(Local.Ufrag + ":", StringComparison.Ordinal) || !request.VerifyMessageIntegrity(localKey))
        {
            SendError(request, from, route, StunErrorCode.Unauthorized);
            return;
        }
        if (!ResolveRoleConflict(request, from, route))
        {
            return;
        }
        if (route == IceRoute.Socket)
        {
            PeerWasHeardFrom(from);
        }

        var buffer = new byte[128];
        var response = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess, request.TransactionId);
        response.AddXorAddress(StunAttributeType.XorMappedAddress, from);
        response.AddMessageIntegrity(localKey);
        response.AddFingerprint();
        Send(from, response.Written.ToArray(), route);

        CandidatePair? pair = FindPair(local, from);
        if (pair is null)
        {
            // RFC 8445 §7.3.1.3: an unknown source is a peer-reflexive candidate.
            request.TryGetUInt32(StunAttributeType.Priority, out uint priority);
            Candidate reflexive = _remoteCandidates.Find(c => c.IsTcp == local.IsTcp && c.EndPoint.Equals(from))
                ?? new Candidate(CandidateType.PeerReflexive, from, priority, $"p{_pairs.Count}", Transport: local.Transport);
            if (!_remoteCandidates.Contains(reflexive))
            {
                _remoteCandidates.Add(reflexive);
            }
            pair = AddPair(local, reflexive);
        }
        if (pair.Remote.IsRelayed && IgnoreRelayedRemotes)
        {
            return; // a check through the peer's relay, learnt as peer-reflexive: not a path we take
        }
        bool useCandidate = request.HasAttribute(StunAttributeType.UseCandidate);
        if (useCandidate && !_controlling)
        {
            pair.NominatedByPeer = true;
            if (pair.State == CandidatePairState.Succeeded)
            {
                Select(pair, now);
                return;
            }
        }
        if (SelectedPair is { } selected && !CouldUpgrade(selected, pair))
        {
            if (pair == selected)
            {
                ConsentCheckReceived(now); // the peer's consent check: answered above, and it stands for ours
            }
            return;
        }
        // RFC 8445 §7.3.1.4 triggered check: our answer might be lost in our own NAT, but a check of
        // ours to this address opens our NAT for it.
        if (pair.State != CandidatePairState.Succeeded)
        {
            IceTransaction? running = FindCheck(pair);
            if (running is not null)
            {
                running.Schedule.RetransmitNow(now); // send it again right away
            }
            else
            {
                StartCheck(pair, useCandidate: false, now);
            }
        }
    }

    /// <summary>
    /// RFC 8445 §7.3.1.1: both sides think they control (or both are controlled). The larger
    /// tie-breaker controls; the loser switches role, or the winner answers 487 Role Conflict.
    /// Returns false when the request was answered with 487.
    /// </summary>
    private bool ResolveRoleConflict(StunMessage request, IPEndPoint from, IceRoute route)
    {
        if (_controlling && request.TryGetUInt64(StunAttributeType.IceControlling, out ulong theirs))
        {
            if (_tieBreaker >= theirs)
            {
                SendError(request, from, route, StunErrorCode.RoleConflict);
                return false;
            }
            SwitchRole();
        }
        else if (!_controlling && request.TryGetUInt64(StunAttributeType.IceControlled, out ulong theirsControlled))
        {
            if (_tieBreaker >= theirsControlled)
            {
                SwitchRole();
            }
            else
            {
                SendError(request, from, route, StunErrorCode.RoleConflict);
                return false;
            }
        }
        return true;
    }

    private void SwitchRole()
    {
        _controlling = !_controlling;
        foreach (CandidatePair pair in _pairs)
        {
            pair.UpdatePriority(_controlling);
        }
        _pairs.Sort((a, b) => b.Priority.CompareTo(a.Priority));
    }

    private void HandleResponse(IceTransaction transaction, StunMessage response, IPEndPoint from, TimeSpan now)
    {
        switch (transaction.Kind)
        {
            case IceTransactionKind.Gather or IceTransactionKind.MappingTest:
                HandleGatherResponse(response, transaction, now);
                return;
            case IceTransactionKind.Consent:
                HandleConsentResponse(response, from, now);
                return;
        }
        CandidatePair pair = transaction.Pair!;
        // The response must be signed with the peer's password and come from where we sent (RFC 8445 §7.2.5.2.1).
        if (_remote is null || !response.VerifyMessageIntegrity(Encoding.UTF8.GetBytes(_remote.Pwd)) || !from.Equals(pair.Remote.EndPoint))
        {
            _transactions[transaction.Id] = transaction; // not the peer's answer: keep waiting
            return;
        }
        if (response.Type.Class == StunClass.ErrorResponse)
        {
            if (response.TryGetErrorCode(out int code, out _) && code == StunErrorCode.RoleConflict)
            {
                // RFC 8445 §7.2.5.1: take the role opposite to the one the request claimed, and check
                // again. A check of the peer's may have switched us already: switching again would
                // take back the role we just gave up, and both sides would keep conflicting.
                if (_controlling == transaction.SentAsControlling)
                {
                    SwitchRole();
                }
                StartCheck(pair, useCandidate: transaction.UseCandidate && _controlling, now);
            }
            else
            {
                pair.State = CandidatePairState.Failed;
            }
            return;
        }
        // Karn: only an unretransmitted request gives an unambiguous round-trip time.
        if (transaction.Schedule.SendCount == 1)
        {
            pair.RoundTrip = now - transaction.Schedule.StartedAt;
        }
        PairSucceeded(pair, transaction.UseCandidate, now);
    }

    /// <summary>A check on <paramref name="pair"/> (or a probe that made it) was answered: select, upgrade, or consider nominating.</summary>
    private void PairSucceeded(CandidatePair pair, bool useCandidate, TimeSpan now)
    {
        pair.State = CandidatePairState.Succeeded;
        if (SelectedPair is { } current)
        {
            if (CouldUpgrade(current, pair))
            {
                UpgradeTo(pair, useCandidate, now);
            }
            return;
        }
        if (useCandidate && _controlling)
        {
            Select(pair, now);
        }
        else if (!_controlling && pair.NominatedByPeer)
        {
            Select(pair, now);
        }
        else if (_controlling)
        {
            ConsiderNomination(now);
        }
    }

    /// <summary>
    /// Regular nomination (RFC 8445 §8.1.1): once the best pair that can still succeed has
    /// succeeded, or each better pair still pending has had <see cref="IceAgentOptions.NominationDelay"/>
    /// since its first check, the controlling agent checks the best valid pair again with USE-CANDIDATE.
    /// </summary>
    /// <remarks>
    /// The wait counts from the better pairs' first checks, not from this success: better pairs are
    /// checked first, so when a server-reflexive pair succeeds after an Internet round trip, host pairs
    /// that got no answer in all that time are not worth waiting for any longer.
    /// </remarks>
    private void ConsiderNomination(TimeSpan now)
    {
        if (_pairs.Exists(p => p.Nominating))
        {
            return;
        }
        CandidatePair? best = _pairs.Find(p => p.State is CandidatePairState.Waiting or CandidatePairState.InProgress or CandidatePairState.Succeeded);
        if (best is { State: CandidatePairState.Succeeded })
        {
            Nominate(best, now);
            return;
        }
        TimeSpan waitUntil = now;
        foreach (CandidatePair better in _pairs.TakeWhile(p => p.State != CandidatePairState.Succeeded))
        {
            if (better.State is CandidatePairState.Waiting or CandidatePairState.InProgress)
            {
                TimeSpan due = (better.FirstCheckAt ?? now) + _options.NominationDelay;
                waitUntil = due > waitUntil ? due : waitUntil;
            }
        }
        if (waitUntil <= now)
        {
            NominateBestValidPair(now);
        }
        else
        {
            _nominateAt = WakeUpTime.Earliest(_nominateAt, waitUntil); // not later than a hold set before (a relay or TCP pair waiting for a better one)
        }
    }

    private void NominateBestValidPair(TimeSpan now)
    {
        if (SelectedPair is null && !_pairs.Exists(p => p.Nominating))
        {
            CandidatePair? best = _pairs.Find(p => p.State == CandidatePairState.Succeeded);
            if (best is { IsRelayed: true } && RelayHeldUntil(now) is { } until)
            {
                _nominateAt = until; // a direct pair may still work: wait for it a little longer
            }
            else if (best is { IsTcp: true } && TcpHeldUntil(now) is { } tcpUntil)
            {
                _nominateAt = tcpUntil; // a UDP pair may still work: the same
            }
            else if (best is not null)
            {
                Nominate(best, now);
            }
        }
    }

    private void Nominate(CandidatePair pair, TimeSpan now)
    {
        _nominateAt = null;
        pair.Nominating = true;
        StartCheck(pair, useCandidate: true, now);
    }

    private IceTransaction? FindCheck(CandidatePair pair)
    {
        foreach (IceTransaction transaction in _transactions.Values)
        {
            if (transaction.Kind == IceTransactionKind.Check && transaction.Pair == pair && !transaction.UseCandidate)
            {
                return transaction;
            }
        }
        return null;
    }

    private void Select(CandidatePair pair, TimeSpan now)
    {
        if (SelectedPair is { } current && !CouldUpgrade(current, pair))
        {
            return;
        }
        SelectedPair = pair;
        _nominateAt = null;
        // Checks on other pairs are pointless now, except on pairs that could still replace this one
        // (direct ones while we are on the relay, UDP ones while on TCP).
        foreach (IceTransaction transaction in _transactions.Values.ToList())
        {
            if (transaction.Kind == IceTransactionKind.Check && !CouldUpgrade(pair, transaction.Pair!))
            {
                _transactions.Remove(transaction.Id);
            }
        }
        StartConsent(now);
        _nextUpgradeAt = pair.IsRelayed || pair.IsTcp ? now + _options.UpgradeInterval : null;
        _events.Enqueue(new IceEvent.Selected(pair.Local, pair.Remote, pair.RoundTrip ?? TimeSpan.Zero));
    }

    private void SendError(StunMessage request, IPEndPoint to, IceRoute route, int code)
    {
        var buffer = new byte[128];
        var builder = new StunMessageBuilder(buffer, request.Type.ToError(), request.TransactionId);
        builder.AddErrorCode(code);
        if (code == StunErrorCode.RoleConflict)
        {
            builder.AddMessageIntegrity(Encoding.UTF8.GetBytes(Local.Pwd));
        }
        builder.AddFingerprint();
        Send(to, builder.Written.ToArray(), route);
    }
}
