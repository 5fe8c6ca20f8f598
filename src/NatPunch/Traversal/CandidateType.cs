namespace NatPunch.Traversal;

/// <summary>Kinds of candidates (RFC 8445 §5.1.1).</summary>
public enum CandidateType
{
    /// <summary>An address of a local interface.</summary>
    Host,
    /// <summary>Our address as a STUN server sees it: the NAT's public mapping.</summary>
    ServerReflexive,
    /// <summary>An address learned from a connectivity check (RFC 8445 §7.3.1.3).</summary>
    PeerReflexive,
    /// <summary>An address on a TURN relay.</summary>
    Relayed,
}

public static class CandidateTypeNames
{
    /// <summary>The names used in SDP and in the rendezvous protocol.</summary>
    public static string ToWire(this CandidateType type) => type switch
    {
        CandidateType.Host => "host",
        CandidateType.ServerReflexive => "srflx",
        CandidateType.PeerReflexive => "prflx",
        _ => "relay",
    };

    public static bool TryParse(string text, out CandidateType type)
    {
        (bool ok, type) = text switch
        {
            "host" => (true, CandidateType.Host),
            "srflx" => (true, CandidateType.ServerReflexive),
            "prflx" => (true, CandidateType.PeerReflexive),
            "relay" => (true, CandidateType.Relayed),
            _ => (false, CandidateType.Host),
        };
        return ok;
    }

    /// <summary>
    /// Type preference (RFC 8445 §5.1.2.2: host 126, peer-reflexive 110, server-reflexive 100, relayed 0).
    /// TCP candidates rank below every direct UDP one and above the relay (RFC 6544 §4.2 leaves the
    /// values to us): a punched TCP path is taken only where UDP finds none, and beats a relay.
    /// </summary>
    public static int TypePreference(this CandidateType type, CandidateTransport transport = CandidateTransport.Udp) => transport == CandidateTransport.Tcp
        ? type switch
        {
            CandidateType.Host => 60,
            CandidateType.PeerReflexive => 55,
            CandidateType.ServerReflexive => 50,
            _ => 0,
        }
        : type switch
        {
            CandidateType.Host => 126,
            CandidateType.PeerReflexive => 110,
            CandidateType.ServerReflexive => 100,
            _ => 0,
        };
}
