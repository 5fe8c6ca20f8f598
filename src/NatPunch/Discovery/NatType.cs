namespace NatPunch.Discovery;

/// <summary>
/// The classic name of a NAT, from the mapping and filtering behaviour together (the RFC 3489 §5
/// vocabulary that users know, defined here by the RFC 4787 behaviours).
/// </summary>
public enum NatType : byte
{
    /// <summary>Not enough was learnt to name it.</summary>
    Unknown,
    /// <summary>The server answered neither over UDP nor over TCP.</summary>
    Unreachable,
    /// <summary>No UDP answer, but the server answered over TCP.</summary>
    UdpBlocked,
    /// <summary>No NAT and endpoint-independent filtering: the host is directly reachable.</summary>
    OpenInternet,
    /// <summary>No NAT, but a firewall filters by address or by address and port.</summary>
    FirewalledNoNat,
    /// <summary>No NAT; filtering unknown.</summary>
    NoNat,
    /// <summary>Endpoint-independent mapping and filtering.</summary>
    FullCone,
    /// <summary>Endpoint-independent mapping, address-dependent filtering.</summary>
    RestrictedCone,
    /// <summary>Endpoint-independent mapping, address-and-port-dependent filtering.</summary>
    PortRestrictedCone,
    /// <summary>Endpoint-independent mapping; filtering unknown.</summary>
    Cone,
    /// <summary>Address-dependent or address-and-port-dependent mapping.</summary>
    Symmetric,
}
