namespace NatPunch.Discovery;

/// <summary>Words for <see cref="NatType"/> and <see cref="NatBehavior"/>: for people and for JSON.</summary>
public static class NatTypeNames
{
    /// <summary>The name a person reads, e.g. "port-restricted cone".</summary>
    public static string DisplayName(this NatType type) => type switch
    {
        NatType.Unreachable => "server unreachable",
        NatType.UdpBlocked => "UDP blocked",
        NatType.OpenInternet => "no NAT (open internet)",
        NatType.FirewalledNoNat => "no NAT, behind a filtering firewall",
        NatType.NoNat => "no NAT (filtering unknown)",
        NatType.FullCone => "full cone",
        NatType.RestrictedCone => "restricted cone",
        NatType.PortRestrictedCone => "port-restricted cone",
        NatType.Cone => "cone (filtering unknown)",
        NatType.Symmetric => "symmetric",
        _ => "unknown",
    };

    /// <summary>The stable snake_case token used in JSON, e.g. "port_restricted_cone".</summary>
    public static string Token(this NatType type) => type switch
    {
        NatType.Unreachable => "unreachable",
        NatType.UdpBlocked => "udp_blocked",
        NatType.OpenInternet => "open_internet",
        NatType.FirewalledNoNat => "firewalled_no_nat",
        NatType.NoNat => "no_nat",
        NatType.FullCone => "full_cone",
        NatType.RestrictedCone => "restricted_cone",
        NatType.PortRestrictedCone => "port_restricted_cone",
        NatType.Cone => "cone",
        NatType.Symmetric => "symmetric",
        _ => "unknown",
    };

    /// <summary>The words a person reads, e.g. "endpoint-independent".</summary>
    public static string DisplayName(this NatBehavior behavior) => behavior switch
    {
        NatBehavior.EndpointIndependent => "endpoint-independent",
        NatBehavior.AddressDependent => "address-dependent",
        NatBehavior.AddressAndPortDependent => "address-and-port-dependent",
        _ => "unknown",
    };

    /// <summary>The stable snake_case token used in JSON, e.g. "endpoint_independent".</summary>
    public static string Token(this NatBehavior behavior) => behavior switch
    {
        NatBehavior.EndpointIndependent => "endpoint_independent",
        NatBehavior.AddressDependent => "address_dependent",
        NatBehavior.AddressAndPortDependent => "address_and_port_dependent",
        _ => "unknown",
    };
}
