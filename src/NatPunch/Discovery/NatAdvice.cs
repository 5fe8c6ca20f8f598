using NatPunch.PortMapping;

namespace NatPunch.Discovery;

/// <summary>Plain-language consequences of a <see cref="NatReport"/> that a user can act on.</summary>
public static class NatAdvice
{
    /// <summary>The advice on the NAT, then what the gateway's port mapping changes.</summary>
    public static IReadOnlyList<string> For(NatReport report, PortMappingReport? portMapping)
    {
        var advice = new List<string>(For(report));
        if (portMapping?.Probes.FirstOrDefault(p => p.Speaks) is { } spoken && report.UdpWorks)
        {
            bool notPublic = portMapping.ExternalAddress is { } external && !PublicAddress.IsPublic(external);
            advice.Add(notPublic
                ? $"The gateway opens ports on request ({spoken.Protocol.DisplayName()}), but its external address {portMapping.ExternalAddress} is not public: another NAT is in front of it, and the mapping will not help."
                : $"The gateway opens ports on request ({spoken.Protocol.DisplayName()}): peers reach this host directly through the mapping, whatever the NAT type; natpunch asks for one (--no-port-mapping to not).");
        }
        return advice;
    }

    /// <summary>One sentence per finding that matters, most important first.</summary>
    public static IReadOnlyList<string> For(NatReport report)
    {
        var advice = new List<string>();
        switch (report.NatType)
        {
            case NatType.Unreachable:
                advice.Add("The server did not answer over UDP or TCP: check the address and port, and that the server is running and not firewalled.");
                return advice;
            case NatType.UdpBlocked:
                advice.Add("UDP is blocked; only TCP relay will work.");
                return advice;
            case NatType.OpenInternet:
                advice.Add("No NAT and no filtering: peers can reach this host directly.");
                break;
            case NatType.FirewalledNoNat:
                advice.Add("No NAT, but a firewall drops unsolicited packets: hole punching (both sides sending at once) will usually get through.");
                break;
            case NatType.NoNat:
                advice.Add("No NAT: this host's address is public. Whether a firewall filters inbound packets could not be tested.");
                break;
            case NatType.FullCone:
                advice.Add("Full-cone NAT: once this host has sent anything, anyone can reach its public address; direct connections will work.");
                break;
            case NatType.RestrictedCone:
                advice.Add("Restricted-cone NAT: hole punching works with almost any peer, symmetric NATs included.");
                break;
            case NatType.PortRestrictedCone:
                advice.Add("Port-restricted cone NAT: hole punching works with peers behind cone NATs; with a peer behind a symmetric NAT a relay will be needed.");
                break;
            case NatType.Cone:
                advice.Add("This NAT keeps one public port per socket, so hole punching usually works; its filtering could not be tested.");
                break;
            case NatType.Symmetric:
                advice.Add("Symmetric NAT: direct connections to peers behind similar NATs will usually fail; a relay will be needed.");
                break;
            default:
                advice.Add("The NAT type could not be determined; connections may need a relay.");
                break;
        }
        if (report.UdpWorks && !report.SupportsRfc5780)
        {
            advice.Add("The server does not support RFC 5780 (no OTHER-ADDRESS), so mapping and filtering could not be tested fully; use a server that does (e.g. `natpunch server --alt-address`, or coturn with two IPs) for a full answer.");
        }
        if (report.Hairpinning == false)
        {
            advice.Add("No hairpinning: two peers behind this same NAT cannot reach each other through its public address; they should use their local addresses or a relay.");
        }
        if (report.MappingLifetime?.SuggestedKeepAlive is { } keepAlive)
        {
            advice.Add($"Idle UDP mappings survive at least {report.MappingLifetime.AtLeast!.Value.TotalSeconds:0} s: send keep-alives every {keepAlive.TotalSeconds:0} s or less.");
        }
        return advice;
    }
}
