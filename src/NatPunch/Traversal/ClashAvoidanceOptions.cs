namespace NatPunch.Traversal;

/// <summary>
/// Punching between NATs that clash: Linux boxes (cloud NAT instances, servers doing masquerade, some
/// cheap routers) that take unsolicited packets for themselves. A check of ours that reaches such a NAT
/// before its host's first datagram to us has left leaves a conntrack entry there, and the host's
/// datagram is then sent from another, random port, which our NAT does not let in. So when the peer's
/// offer arrives, a traceroute to another port of the peer's public address counts the routers before
/// it and learns whether it answers unsolicited datagrams (<see cref="RouteToPeer"/>); an opening
/// datagram whose time to live runs out one router short of the peer's address opens our NAT(s) for
/// the peer and never reaches its NAT; and when the peer's NAT answers and there is a router in between,
/// our checks to its public address wait until the peer's own opening has surely left
/// (<see cref="HoldAfterOpening"/>), or until a check of the peer's arrives from there.
/// </summary>
public sealed record ClashAvoidanceOptions
{
    public static readonly ClashAvoidanceOptions Default = new();

    /// <summary>
    /// Checks to the peer's public address wait for the traceroute at most twice the round trip to the
    /// STUN server plus this (an answer from the peer's address takes about one round trip to the peer),
    /// but at least <see cref="MinTraceWait"/> and at most <see cref="MaxTraceWait"/>.
    /// </summary>
    public TimeSpan TraceMargin { get; init; } = TimeSpan.FromMilliseconds(10);

    public TimeSpan MinTraceWait { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Also the wait when the round trip to the STUN server is not known.</summary>
    public TimeSpan MaxTraceWait { get; init; } = TimeSpan.FromMilliseconds(150);

    /// <summary>
    /// How much longer than the traceroute's wait checks wait for its result before going ahead without
    /// it (the driver's timer, a busy machine, code run for the first time).
    /// </summary>
    public TimeSpan ResultGrace { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// When the peer's NAT may clash: how long after checks begin (or our traceroute ends, if later) our
    /// checks to its public address still wait, so that the peer's opening datagram has left its NAT by
    /// then: its traceroute sends it as soon as it knows a safe time to live, but that may take up to its
    /// own wait (<see cref="MaxTraceWait"/>, when answers were lost), and the two sides' starts differ a little.
    /// </summary>
    public TimeSpan HoldAfterOpening { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long checks wait for the traceroute, given the round trip to the STUN server (null: unknown).</summary>
    public TimeSpan TraceWait(TimeSpan? serverRoundTrip) => serverRoundTrip is { } rtt
        ? TimeSpan.FromTicks(Math.Clamp((2 * rtt + TraceMargin).Ticks, MinTraceWait.Ticks, MaxTraceWait.Ticks))
        : MaxTraceWait;
}
