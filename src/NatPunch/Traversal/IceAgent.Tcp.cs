using System.Net;
using System.Net.Sockets;
using NatPunch.Core;

namespace NatPunch.Traversal;

// TCP candidates (docs/tcp-punching.md): the driver listens and connects on one TCP port and punches
// connections to the peer's TCP candidates by simultaneous open; each connection that opens carries
// checks like any pair, framed by the driver (RFC 4571), and the pair it makes ranks below every
// direct UDP pair and above the relay.
public sealed partial class IceAgent
{
    private readonly Dictionary<AddressFamily, Candidate> _tcpBases = [];
    // The peer's endpoints we have an open TCP connection with (the driver's word).
    private readonly HashSet<IPEndPoint> _tcpOpen = [];

    /// <summary>
    /// Our TCP candidates: the driver's TCP port on every host address, and that port as the STUN
    /// server saw it over TCP (<paramref name="reflexive"/>, null if it did not answer). Reported as
    /// <see cref="IceEvent.CandidateGathered"/> like every local candidate, so they go in the offer or are trickled.
    /// </summary>
    public void AddTcpCandidates(IReadOnlyList<IPEndPoint> hostEndPoints, IPEndPoint? reflexive)
    {
        for (int i = 0; i < hostEndPoints.Count; i++)
        {
            IPEndPoint endPoint = Candidate.Normalize(hostEndPoints[i]);
            if (_localCandidates.Exists(c => c.IsTcp && c.EndPoint.Equals(endPoint)))
            {
                continue;
            }
            uint priority = Candidate.ComputePriority(CandidateType.Host, Candidate.LocalPreference(endPoint.Address, i), CandidateTransport.Tcp);
            var host = new Candidate(CandidateType.Host, endPoint, priority, $"th{i}", Transport: CandidateTransport.Tcp);
            AddLocalCandidate(host);
            if (!_tcpBases.TryGetValue(endPoint.AddressFamily, out Candidate? existing) || existing.Priority < host.Priority)
            {
                _tcpBases[endPoint.AddressFamily] = host;
            }
        }
        if (reflexive is not null && _tcpBases.TryGetValue(Candidate.Normalize(reflexive).AddressFamily, out Candidate? baseCandidate))
        {
            IPEndPoint mapped = Candidate.Normalize(reflexive);
            if (!_localCandidates.Exists(c => c.IsTcp && c.EndPoint.Equals(mapped)))
            {
                int localPreference = (int)((baseCandidate.Priority >> 8) & 0xFFFF);
                uint priority = Candidate.ComputePriority(CandidateType.ServerReflexive, localPreference, CandidateTransport.Tcp);
                AddLocalCandidate(new Candidate(CandidateType.ServerReflexive, mapped, priority, $"ts{_localCandidates.Count}",
                    baseCandidate.EndPoint, CandidateTransport.Tcp));
            }
        }
        foreach (Candidate remote in _remoteCandidates.Where(c => c.IsTcp).ToList())
        {
            AddPairs(remote);
        }
    }

    /// <summary>The next STUN message to send on the TCP connection to <see cref="OutgoingDatagram.To"/>.</summary>
    public bool TryPollTcpTransmit(out OutgoingDatagram datagram) => _tcpOutgoing.TryDequeue(out datagram);

    /// <summary>
    /// A TCP connection with the peer's <paramref name="remote"/> is open (we connected, or it did and
    /// we accepted): its pair is checked at once; an endpoint not in the peer's offer is a
    /// peer-reflexive TCP candidate (its NAT chose another port).
    /// </summary>
    public void TcpConnectionOpened(IPEndPoint remote, TimeSpan now)
    {
        remote = Candidate.Normalize(remote);
        _tcpOpen.Add(remote);
        CheckTcpConnection(remote, now);
    }

    /// <summary>The TCP connection with <paramref name="remote"/> ended: its pair fails, and if it carried the data the path is lost.</summary>
    public void TcpConnectionClosed(IPEndPoint remote, string reason, TimeSpan now)
    {
        remote = Candidate.Normalize(remote);
        _tcpOpen.Remove(remote);
        CandidatePair? pair = _pairs.Find(p => p.IsTcp && p.Remote.EndPoint.Equals(remote));
        if (pair is null)
        {
            return;
        }
        pair.State = CandidatePairState.Failed;
        foreach (IceTransaction transaction in _transactions.Values.ToList())
        {
            if (transaction.Pair == pair)
            {
                _transactions.Remove(transaction.Id);
            }
        }
        if (SelectedPair == pair && !_consentLost)
        {
            _consentLost = true;
            _events.Enqueue(new IceEvent.PathLost(remote, reason));
        }
    }

    /// <summary>Asks the driver to punch TCP connections to <paramref name="remotes"/> from <paramref name="at"/> (the introduction's moment).</summary>
    private void RequestTcpPunch(IReadOnlyList<Candidate> remotes, TimeSpan at)
    {
        List<IPEndPoint> reachable = remotes.Where(c => c.IsTcp && _tcpBases.ContainsKey(c.Family)).Select(c => c.EndPoint).ToList();
        if (reachable.Count > 0)
        {
            _events.Enqueue(new IceEvent.PunchTcp(reachable, at));
        }
    }

    /// <summary>The peer's offer is in: connections that opened before it (the peer was quicker) are checked now.</summary>
    private void CheckOpenTcpConnections(TimeSpan now)
    {
        foreach (IPEndPoint remote in _tcpOpen.ToList())
        {
            CheckTcpConnection(remote, now);
        }
    }

    private void CheckTcpConnection(IPEndPoint remote, TimeSpan now)
    {
        if (_remote is null || !_tcpBases.TryGetValue(remote.AddressFamily, out Candidate? local))
        {
            return; // checked once the peer's offer (its credentials) is in
        }
        CandidatePair? pair = FindPair(local, remote);
        if (pair is null)
        {
            Candidate reflexive = _remoteCandidates.Find(c => c.IsTcp && c.EndPoint.Equals(remote))
                ?? new Candidate(CandidateType.PeerReflexive, remote, Candidate.ComputePriority(CandidateType.PeerReflexive, 0, CandidateTransport.Tcp),
                    $"tp{_pairs.Count}", Transport: CandidateTransport.Tcp);
            if (!_remoteCandidates.Contains(reflexive))
            {
                _remoteCandidates.Add(reflexive);
            }
            pair = AddPair(local, reflexive);
        }
        if (pair.State != CandidatePairState.Succeeded && FindCheck(pair) is null && (SelectedPair is null || CouldUpgrade(SelectedPair, pair)))
        {
            pair.State = CandidatePairState.Waiting;
            pair.FirstCheckAt = null;
            StartCheck(pair, useCandidate: false, now);
        }
    }

    /// <summary>
    /// While a direct UDP pair may still work and both sides evidently have UDP (our STUN server
    /// answered; the peer's mapping test ran, or it has a UDP public address or was heard over UDP), a
    /// TCP pair waits until <see cref="IceAgentOptions.TcpNominationDelay"/> after checks began; null when it need not wait.
    /// </summary>
    private TimeSpan? TcpHeldUntil(TimeSpan now)
    {
        if (_checksStartAt is not { } started || now >= started + _options.TcpNominationDelay || !StunServerAnswered)
        {
            return null;
        }
        bool peerHasUdp = PeerMappingVaries is not null
            || _remoteCandidates.Exists(c => !c.IsTcp && !c.IsRelayed && c.Type is CandidateType.ServerReflexive or CandidateType.PeerReflexive);
        bool udpPending = _pairs.Exists(p => !p.IsRelayed && !p.IsTcp && p.State is CandidatePairState.Waiting or CandidatePairState.InProgress);
        return peerHasUdp && udpPending ? started + _options.TcpNominationDelay : null;
    }

    /// <summary>At the check timeout, TCP pairs whose connection never opened have failed.</summary>
    private void FailUnconnectedTcpPairs()
    {
        foreach (CandidatePair pair in _pairs)
        {
            if (pair.IsTcp && pair.State == CandidatePairState.Waiting && !_tcpOpen.Contains(pair.Remote.EndPoint))
            {
                pair.State = CandidatePairState.Failed;
            }
        }
    }
}
