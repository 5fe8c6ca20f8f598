namespace NatPunch.Traversal;

/// <summary>
/// What a traceroute toward the peer's public address found (<see cref="IceEvent.TraceRouteToPeer"/>).
/// </summary>
/// <param name="RoutersBefore">
/// How many routers forward our datagrams before they reach the peer's public address: a datagram
/// with this time to live crosses our own NAT(s), opening them toward the peer, and dies before the
/// peer's NAT. 0 when no router answered.
/// </param>
/// <param name="AnswersUnsolicited">
/// The peer's public address itself answered a datagram to a port it had not mapped (ICMP port
/// unreachable): its NAT takes unsolicited packets for itself, and so may clash.
/// </param>
public sealed record RouteToPeer(int RoutersBefore, bool AnswersUnsolicited)
{
    /// <summary>Nothing was heard (no router, no answer), or the platform cannot trace.</summary>
    public static readonly RouteToPeer Unknown = new(0, false);
}
