namespace NatPunch.PortMapping;

/// <summary>The ways to ask a gateway for an inbound port, in the order they are tried.</summary>
public enum PortMappingProtocol
{
    /// <summary>Port Control Protocol (RFC 6887), UDP port 5351.</summary>
    Pcp,
    /// <summary>NAT Port Mapping Protocol (RFC 6886), UDP port 5351; PCP's predecessor (Apple).</summary>
    NatPmp,
    /// <summary>UPnP Internet Gateway Device: SSDP discovery, then SOAP over HTTP to WANIPConnection.</summary>
    Upnp,
}

public static class PortMappingProtocolNames
{
    /// <summary>The names in netcheck's output and the JSON events: "pcp", "nat-pmp", "upnp".</summary>
    public static string ToWire(this PortMappingProtocol protocol) => protocol switch
    {
        PortMappingProtocol.Pcp => "pcp",
        PortMappingProtocol.NatPmp => "nat-pmp",
        _ => "upnp",
    };

    public static bool TryParse(string text, out PortMappingProtocol protocol)
    {
        foreach (PortMappingProtocol candidate in Enum.GetValues<PortMappingProtocol>())
        {
            if (string.Equals(text, candidate.ToWire(), StringComparison.OrdinalIgnoreCase))
            {
                protocol = candidate;
                return true;
            }
        }
        protocol = default;
        return false;
    }

    /// <summary>The names people know them by: "PCP", "NAT-PMP", "UPnP".</summary>
    public static string DisplayName(this PortMappingProtocol protocol) => protocol switch
    {
        PortMappingProtocol.Pcp => "PCP",
        PortMappingProtocol.NatPmp => "NAT-PMP",
        _ => "UPnP",
    };
}
