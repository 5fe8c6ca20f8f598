namespace NatPunch.Traversal;

/// <summary>Timing of <see cref="IceAgent"/>. Defaults suit NATs on the Internet; tests shorten them.</summary>
public sealed record IceAgentOptions
{
    public static readonly IceAgentOptions Default = new();

    /// <summary>Pacing between the first checks of successive pairs (RFC 8445 §14.2 "Ta"); small, so all pairs start almost at once.</summary>
    public TimeSpan CheckPacing { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// First retransmission interval of a check; it doubles up to <see cref="MaxCheckRetransmit"/>.
    /// Frequent retries matter: a peer's first checks are often dropped by our NAT until our own
    /// checks have opened it, so a single fire-and-forget punch is not enough.
    /// </summary>
    public TimeSpan InitialCheckRetransmit { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxCheckRetransmit { get; init; } = TimeSpan.FromMilliseconds(400);

    /// <summary>
    /// Signalled remote candidates beyond this many are ignored, and no pair is formed beyond
    /// <see cref="MaxPairs"/> (RFC 8445 §6.1.2.5's limit of 100): candidates come through the
    /// rendezvous, and a peer or server must not make us send checks to any number of addresses.
    /// </summary>
    public int MaxRemoteCandidates { get; init; } = 50;

    public int MaxPairs { get; init; } = 100;

    /// <summary>A pair whose checks get no answer for this long has failed.</summary>
    public TimeSpan CheckTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a better pair gets from its first check to succeed before the controlling agent
    /// nominates a lower-priority pair that already succeeded (so two hosts behind one NAT settle on
    /// their LAN addresses). Counted from the better pair's first check, not from the success.
    /// </summary>
    public TimeSpan NominationDelay { get; init; } = TimeSpan.FromMilliseconds(60);

    /// <summary>
    /// A relayed pair that works is nominated only once every direct pair has failed or this long
    /// after checks began: direct is preferred, and direct checks through NATs may need a few
    /// retransmissions before both holes are open.
    /// </summary>
    public TimeSpan RelayNominationDelay { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// A TCP pair that works waits as long after checks began while a UDP pair may still work and both
    /// sides evidently have UDP (a UDP path has no head-of-line blocking); without UDP on one side it
    /// is nominated at once.
    /// </summary>
    public TimeSpan TcpNominationDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>While data goes through a relay, the direct pairs are checked again this often (and the server-reflexive address re-learned), to upgrade.</summary>
    public TimeSpan UpgradeInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one upgrade round's checks on a direct pair last before the pair counts as failed again.</summary>
    public TimeSpan UpgradeProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Retransmission of STUN requests to the server while gathering (RFC 8489 §6.2.1, shortened).</summary>
    public TimeSpan GatherRetransmit { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Gathering gives up on a STUN server after this long.</summary>
    public TimeSpan GatherTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Consent checks on the selected pair (RFC 7675 §5.1: every 5 s, randomized ±20%); they also keep NAT mappings open.</summary>
    public TimeSpan ConsentInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Without a consent response for this long the path is declared dead (RFC 7675 §5.1: 30 s).</summary>
    public TimeSpan ConsentTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Port probing for a symmetric NAT against one that keeps its port (<see cref="PortProbingOptions"/>);
    /// null: never (<c>--no-port-probing</c>).
    /// </summary>
    public PortProbingOptions? PortProbing { get; init; } = PortProbingOptions.Default;

    /// <summary>
    /// Punching between NATs that take unsolicited packets for themselves (<see cref="ClashAvoidanceOptions"/>);
    /// null: never (<c>--no-clash-avoidance</c>).
    /// </summary>
    public ClashAvoidanceOptions? ClashAvoidance { get; init; } = ClashAvoidanceOptions.Default;

    /// <summary>Retransmission of a consent check whose answer is late.</summary>
    public TimeSpan ConsentRetransmit { get; init; } = TimeSpan.FromMilliseconds(500);
}
