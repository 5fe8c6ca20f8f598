namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// How a <see cref="NatRouter"/> behaves, in the terms of RFC 4787. Start from a preset and change
/// what you need: <c>NatBehavior.PortRestrictedCone with { Hairpinning = true, MappingLifetime = TimeSpan.FromSeconds(30) }</c>.
/// </summary>
/// <remarks>
/// The classic names (RFC 3489 §5) map onto RFC 4787's two axes as RFC 4787 §4.1 and §5 explain:
/// full cone = EIM + EIF, restricted cone = EIM + ADF, port-restricted cone = EIM + APDF,
/// symmetric = APDM (+ APDF). Presets do not hairpin (many home routers don't, although RFC 4787
/// REQ-9 asks them to) and keep idle mappings for 2 minutes, the least RFC 4787 REQ-5 allows.
/// </remarks>
public sealed record NatBehavior
{
    /// <summary>A plain router: no translation, no filtering. Hosts behind it have public addresses.</summary>
    public static readonly NatBehavior NoNat = new()
    {
        Name = nameof(NoNat),
        Mapping = MappingBehavior.None,
        Filtering = FilteringBehavior.EndpointIndependent,
    };

    /// <summary>EIM + EIF: once mapped, anyone may send to the mapping.</summary>
    public static readonly NatBehavior FullCone = new()
    {
        Name = nameof(FullCone),
        Mapping = MappingBehavior.EndpointIndependent,
        Filtering = FilteringBehavior.EndpointIndependent,
    };

    /// <summary>EIM + ADF: inbound only from IP addresses the host has sent to.</summary>
    public static readonly NatBehavior RestrictedCone = new()
    {
        Name = nameof(RestrictedCone),
        Mapping = MappingBehavior.EndpointIndependent,
        Filtering = FilteringBehavior.AddressDependent,
    };

    /// <summary>EIM + APDF: inbound only from IP:port pairs the host has sent to (Linux <c>masquerade</c>).</summary>
    public static readonly NatBehavior PortRestrictedCone = new()
    {
        Name = nameof(PortRestrictedCone),
        Mapping = MappingBehavior.EndpointIndependent,
        Filtering = FilteringBehavior.AddressAndPortDependent,
    };

    /// <summary>APDM + APDF with random ports: a new, unpredictable mapping for every destination (Linux <c>masquerade fully-random</c>).</summary>
    public static readonly NatBehavior Symmetric = new()
    {
        Name = nameof(Symmetric),
        Mapping = MappingBehavior.AddressAndPortDependent,
        Filtering = FilteringBehavior.AddressAndPortDependent,
        PortAssignment = PortAssignment.Random,
    };

    /// <summary>A firewall that drops all UDP in both directions; only relays over TCP could get through.</summary>
    public static readonly NatBehavior UdpBlocked = NoNat with { Name = nameof(UdpBlocked), BlocksUdp = true };

    /// <summary>Every preset, for theories over NAT types.</summary>
    public static IReadOnlyList<NatBehavior> Presets { get; } = [NoNat, FullCone, RestrictedCone, PortRestrictedCone, Symmetric, UdpBlocked];

    /// <summary>A preset by its name, for <c>[InlineData("Symmetric")]</c>-style theories.</summary>
    public static NatBehavior Preset(string name) =>
        Presets.FirstOrDefault(p => p.Name == name) ?? throw new ArgumentException($"No preset named '{name}'.", nameof(name));

    /// <summary>Shown in traces and test names.</summary>
    public string Name { get; init; } = "Custom";

    /// <summary>RFC 4787 §4.1: which outbound packets share one external address and port.</summary>
    public MappingBehavior Mapping { get; init; } = MappingBehavior.EndpointIndependent;

    /// <summary>RFC 4787 §5: which inbound packets a mapping lets through.</summary>
    public FilteringBehavior Filtering { get; init; } = FilteringBehavior.AddressAndPortDependent;

    /// <summary>RFC 4787 §4.2.1: how the external port of a new mapping is chosen.</summary>
    public PortAssignment PortAssignment { get; init; } = PortAssignment.Preservation;

    /// <summary>RFC 4787 §4.1 (IP address pooling): which public address a new mapping uses when the router has several.</summary>
    public AddressPooling AddressPooling { get; init; } = AddressPooling.Paired;

    /// <summary>RFC 4787 §6: a LAN host may reach another LAN host through its public mapping.</summary>
    public bool Hairpinning { get; init; }

    /// <summary>
    /// RFC 4787 §4.3: a mapping (and each filtering permission) dies after this long without traffic
    /// that refreshes it. REQ-5 asks for at least 2 minutes; many real NATs use 30 s.
    /// </summary>
    public TimeSpan MappingLifetime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// RFC 4787 §4.3: outbound traffic always refreshes a mapping (REQ-6); inbound traffic does only
    /// when this is set, which some NATs do and which lets a peer keep the other's mapping alive.
    /// </summary>
    public bool InboundRefreshesMapping { get; init; }

    /// <summary>Drop every UDP packet in both directions.</summary>
    public bool BlocksUdp { get; init; }

    /// <summary>The external ports the NAT may assign (RFC 4787 §4.2.1 discusses ranges).</summary>
    public int FirstPort { get; init; } = 1024;

    public int LastPort { get; init; } = 65535;

    public override string ToString() => Name;
}

/// <summary>RFC 4787 §4.1: what decides whether two outbound flows from one internal address:port share a mapping.</summary>
public enum MappingBehavior
{
    /// <summary>No translation at all: a router or a firewall, hosts keep their own (public) addresses.</summary>
    None,
    /// <summary>EIM: one mapping per internal address:port, whatever the destination (REQ-1 asks for this).</summary>
    EndpointIndependent,
    /// <summary>ADM: one mapping per internal address:port and destination IP.</summary>
    AddressDependent,
    /// <summary>APDM: one mapping per internal address:port and destination IP:port ("symmetric").</summary>
    AddressAndPortDependent,
}

/// <summary>RFC 4787 §5: which external sources may send to a mapping.</summary>
public enum FilteringBehavior
{
    /// <summary>EIF: anyone, once the mapping exists. With <see cref="MappingBehavior.None"/>: no firewall at all.</summary>
    EndpointIndependent,
    /// <summary>ADF: only IP addresses the mapping has sent to.</summary>
    AddressDependent,
    /// <summary>APDF: only IP:port pairs the mapping has sent to.</summary>
    AddressAndPortDependent,
}

/// <summary>RFC 4787 §4.2.1: how a new mapping's external port is chosen.</summary>
public enum PortAssignment
{
    /// <summary>The internal port when it is free on that public address, else the next free one above it.</summary>
    Preservation,
    /// <summary>The next free port after the previous allocation, from <see cref="NatBehavior.FirstPort"/> on.</summary>
    Sequential,
    /// <summary>A random free port in the range (RFC 6056-style; the hardest for port prediction).</summary>
    Random,
}

/// <summary>RFC 4787 §4.1 "IP address pooling": which public address a new mapping gets.</summary>
public enum AddressPooling
{
    /// <summary>Every mapping of one internal IP uses the same public IP (REQ-2 recommends this).</summary>
    Paired,
    /// <summary>Each mapping gets any public IP, at random.</summary>
    Arbitrary,
}
