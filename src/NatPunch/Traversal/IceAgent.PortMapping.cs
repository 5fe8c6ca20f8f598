using System.Net;

namespace NatPunch.Traversal;

public sealed partial class IceAgent
{
    /// <summary>
    /// Adds the external address a gateway mapped to this socket's port (PCP, NAT-PMP or UPnP): a
    /// server-reflexive candidate of the host base, as a STUN answer would give (RFC 8445 §5.1.1.2
    /// counts such addresses as server reflexive), reported as <see cref="IceEvent.CandidateGathered"/>
    /// so the driver offers or trickles it. The peer's checks to it come in through the mapping;
    /// our checks, as for every server-reflexive candidate, go from the base.
    /// </summary>
    public void AddMappedCandidate(IPEndPoint external)
    {
        external = Candidate.Normalize(external);
        if (_localCandidates.Exists(c => !c.IsTcp && c.EndPoint.Equals(external)) || !_bases.TryGetValue(external.AddressFamily, out Candidate? baseCandidate))
        {
            return;
        }
        int localPreference = (int)((baseCandidate.Priority >> 8) & 0xFFFF);
        // Just above the STUN-learnt ones: a mapping is open to everyone, a NAT's mapping perhaps not.
        uint priority = Candidate.ComputePriority(CandidateType.ServerReflexive, Math.Min(65535, localPreference + 1));
        AddLocalCandidate(new Candidate(CandidateType.ServerReflexive, external, priority, $"m{_localCandidates.Count}", baseCandidate.EndPoint));
    }
}
