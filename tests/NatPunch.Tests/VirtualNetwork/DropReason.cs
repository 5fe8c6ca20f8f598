namespace NatPunch.Tests.VirtualNetwork;

/// <summary>Why the network discarded a packet; each reason is counted and traced.</summary>
public enum DropReason
{
    None = 0,
    /// <summary>Random loss on a link (<see cref="LinkConditions.LossRate"/>).</summary>
    Loss,
    /// <summary>A bandwidth-limited link's queue was full (drop-tail).</summary>
    QueueFull,
    /// <summary>No node on the segment has the destination address and there is no gateway.</summary>
    NoRoute,
    /// <summary>The destination host has no socket on that port (no ICMP is modelled: the sender hears nothing).</summary>
    PortUnreachable,
    /// <summary>The router is a firewall that blocks all UDP.</summary>
    UdpBlocked,
    /// <summary>Inbound to a public address and port that has no (live) mapping.</summary>
    NoMapping,
    /// <summary>A mapping exists but the NAT's filtering rejects this source (RFC 4787 §5).</summary>
    Filtered,
    /// <summary>A LAN host sent to the NAT's own public address and the NAT does not hairpin (RFC 4787 §6).</summary>
    HairpinDisabled,
    /// <summary>The NAT has no free external port for a new mapping.</summary>
    PortsExhausted,
    /// <summary>A test's firewall rule on a router (<see cref="NatRouter.DropInbound"/>).</summary>
    FirewallRule,
}
