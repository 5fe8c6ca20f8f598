namespace NatPunch.LabTests.Discovery;

/// <summary>
/// What each kind of the lab is built to be (docs/lab.md) and so what netcheck and natdiscovery
/// must report from its host 1.
/// </summary>
/// <param name="Verdict">Mapping/filtering in <see cref="Discovery.Verdict"/> words.</param>
/// <param name="NatType">netcheck's <c>nat_type</c>.</param>
/// <param name="Hairpinning">netcheck's <c>hairpinning</c>: no kind of the lab hairpins; without a NAT
/// the two sockets reach each other directly; with UDP blocked it is not tested.</param>
/// <param name="PortMapping">netcheck's <c>port_mapping</c>: the upnp kind's gateway (miniupnpd) speaks PCP, NAT-PMP and UPnP, no other does.</param>
public sealed record KindExpectation(string Kind, string Mapping, string Filtering, string NatType, bool Udp, bool? Hairpinning, bool PortMapping = false)
{
    public string Verdict => $"{Mapping}/{Filtering}";

    public static KindExpectation For(string kind) => kind switch
    {
        "open" => new(kind, "none", "EIF", "open_internet", true, true),
        "full" => new(kind, "EIM", "EIF", "full_cone", true, false),
        "addr" => new(kind, "EIM", "ADF", "restricted_cone", true, false),
        "port" => new(kind, "EIM", "APDF", "port_restricted_cone", true, false),
        "sym" => new(kind, "APDM", "APDF", "symmetric", true, false),
        "udpblock" => new(kind, "blocked", "blocked", "udp_blocked", false, null),
        "cgnat" => new(kind, "EIM", "APDF", "port_restricted_cone", true, false),
        "upnp" => new(kind, "APDM", "APDF", "symmetric", true, false, PortMapping: true),
        // NATs that take unsolicited packets for themselves: to a STUN client, port-restricted cones like port's.
        "clash" or "clashb" or "cgclash" => new(kind, "EIM", "APDF", "port_restricted_cone", true, false),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a kind of the lab"),
    };
}
