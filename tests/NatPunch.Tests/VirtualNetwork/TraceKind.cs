namespace NatPunch.Tests.VirtualNetwork;

/// <summary>What happened to a packet (or a NAT mapping) at one point of its path.</summary>
public enum TraceKind
{
    /// <summary>A socket handed a datagram to the network.</summary>
    Sent,
    /// <summary>A socket received a datagram.</summary>
    Delivered,
    /// <summary>A link delivered an extra copy (<see cref="LinkConditions.DuplicationRate"/>).</summary>
    Duplicated,
    /// <summary>A NAT rewrote the source of an outbound datagram.</summary>
    TranslatedOutbound,
    /// <summary>A NAT rewrote the destination of an inbound datagram.</summary>
    TranslatedInbound,
    /// <summary>A NAT looped a LAN datagram addressed to its own public address back into the LAN (RFC 4787 §6).</summary>
    Hairpinned,
    /// <summary>The packet was discarded; see <see cref="DropReason"/>.</summary>
    Dropped,
    MappingCreated,
    MappingExpired,
}
