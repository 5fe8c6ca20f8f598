using System.Net;

namespace NatPunch.Traversal;

public sealed partial class IceAgent
{
    private TimeSpan? _nextUpgradeAt;

    /// <summary>Our relayed candidates (TURN allocations), as added by the driver.</summary>
    public IReadOnlyList<Candidate> RelayedCandidates => _relayedCandidates;

    /// <summary>
    /// Adds the relayed address a TURN server allocated for this socket (RFC 8445 §5.1.1.2) and pairs
    /// it with every remote candidate of its family. Reported as <see cref="IceEvent.CandidateGathered"/>
    /// so the driver can trickle it to the peer.
    /// </summary>
    /// <param name="mapped">Our address as the TURN server saw it (the candidate's related address).</param>
    public void AddRelayedCandidate(IPEndPoint relayed, IPEndPoint? mapped)
    {
        relayed = Candidate.Normalize(relayed);
        if (_relayedCandidates.Exists(c => c.EndPoint.Equals(relayed)))
        {
            return;
        }
        uint priority = Candidate.ComputePriority(CandidateType.Relayed, Candidate.LocalPreference(relayed.Address, _relayedCandidates.Count));
        var candidate = new Candidate(CandidateType.Relayed, relayed, priority, $"r{_localCandidates.Count}",
            mapped is null ? null : Candidate.Normalize(mapped));
        _relayedCandidates.Add(candidate);
        AddLocalCandidate(candidate);
        foreach (Candidate remote in _remoteCandidates)
        {
            if (remote.Family == candidate.Family && !remote.IsTcp)
            {
                AddPair(candidate, remote);
            }
        }
    }

    /// <summary>
    /// Forgets a relayed candidate whose allocation was lost (a restarted TURN server, a refresh
    /// answered 437): the candidate, its pairs and their checks go. If the selected pair used it, the
    /// path is lost as when consent fails: <see cref="IceEvent.PathLost"/>, and no more consent checks.
    /// </summary>
    public void RemoveRelayedCandidate(IPEndPoint relayed, string reason)
    {
        relayed = Candidate.Normalize(relayed);
        if (_relayedCandidates.Find(c => c.EndPoint.Equals(relayed)) is not { } candidate)
        {
            return;
        }
        _relayedCandidates.Remove(candidate);
        _localCandidates.Remove(candidate);
        _pairs.RemoveAll(p => p.Local == candidate);
        foreach (IceTransaction transaction in _transactions.Values.ToList())
        {
            if (transaction.Pair?.Local == candidate)
            {
                _transactions.Remove(transaction.Id);
            }
        }
        if (SelectedPair?.Local == candidate && !_consentLost)
        {
            _consentLost = true;
            _events.Enqueue(new IceEvent.PathLost(SelectedPair.Remote.EndPoint, reason));
        }
    }

    /// <summary>
    /// A direct pair that works replaces a relayed selection, and a direct UDP pair a TCP one (UDP
    /// has no head-of-line blocking and the streams' own recovery); nothing replaces a direct UDP one.
    /// </summary>
    private static bool CouldUpgrade(CandidatePair selected, CandidatePair pair) =>
        !pair.IsRelayed && (selected.IsRelayed || (selected.IsTcp && !pair.IsTcp));

    /// <summary>
    /// While a direct pair could still work, a relayed one waits until
    /// <see cref="IceAgentOptions.RelayNominationDelay"/> after checks began; null when it need not wait.
    /// </summary>
    private TimeSpan? RelayHeldUntil(TimeSpan now)
    {
        if (_checksStartAt is not { } started || now >= started + _options.RelayNominationDelay)
        {
            return null;
        }
        bool directPending = _pairs.Exists(p => !p.IsRelayed && p.State is CandidatePairState.Waiting or CandidatePairState.InProgress);
        return directPending ? started + _options.RelayNominationDelay : null;
    }

    /// <summary>A direct pair succeeded while data goes through the relay: the controlling side nominates it; the controlled side takes it once nominated.</summary>
    private void UpgradeTo(CandidatePair pair, bool wasNomination, TimeSpan now)
    {
        if (_controlling)
        {
            if (wasNomination)
            {
                Select(pair, now);
            }
            else if (!pair.Nominating)
            {
                Nominate(pair, now);
            }
        }
        else if (pair.NominatedByPeer)
        {
            Select(pair, now);
        }
    }

    /// <summary>
    /// On the relay, every <see cref="IceAgentOptions.UpgradeInterval"/>: check each direct pair again
    /// (both peers do, so both NATs open for each other as during the first punch) and ask the STUN
    /// server again, since a path that was blocked may have come back with a new mapping.
    /// </summary>
    private void ProbeForUpgrade(TimeSpan now)
    {
        if (_nextUpgradeAt is not { } due || now < due)
        {
            return;
        }
        if (SelectedPair is not { } selected || !(selected.IsRelayed || selected.IsTcp))
        {
            _nextUpgradeAt = null;
            return;
        }
        _nextUpgradeAt = now + _options.UpgradeInterval;
        foreach (CandidatePair pair in _pairs)
        {
            // TCP pairs are checked when their connection opens (IceAgent.Tcp.cs), not here.
            if (CouldUpgrade(selected, pair) && !pair.IsTcp && pair.State != CandidatePairState.Succeeded && FindCheck(pair) is null)
            {
                pair.FirstCheckAt = now;
                StartCheck(pair, useCandidate: false, now, _options.UpgradeProbeTimeout);
            }
        }
        Regather(now);
    }
}
