using NatPunch.Protocol.PortMapping;

namespace NatPunch.PortMapping;

/// <summary>
/// The gateway's UDP ports for PCP/NAT-PMP and SSDP, and whether the SSDP search also goes to the
/// multicast group. Standard everywhere but in tests, whose stand-in gateway listens on loopback
/// ports of its own (and must not be searched for on the real network).
/// </summary>
internal sealed record GatewayPorts(int PortControl, int Ssdp, bool SearchMulticast)
{
    public static readonly GatewayPorts Standard = new(PcpMessage.ServerPort, SsdpMessage.Port, true);
}
