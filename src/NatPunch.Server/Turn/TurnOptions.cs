using System.Net;

namespace NatPunch.Server.Turn;

/// <summary>Settings of the TURN relay (RFC 8656). TURN is on unless <see cref="Enabled"/> is false.</summary>
public sealed record TurnOptions
{
    public static readonly TurnOptions Default = new();

    /// <summary>
    /// On by default, so that peers of a server started with no options can fall back to its relay:
    /// without <see cref="Users"/> or <see cref="Secret"/> the only credentials it accepts are the
    /// grants the rendezvous hands to registered peers (<see cref="TurnGrantIssuer"/>).
    /// </summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The long-term credential realm (RFC 8489 §9.2).</summary>
    public string Realm { get; init; } = "natpunch";

    /// <summary>Static long-term users: name → password.</summary>
    public IReadOnlyDictionary<string, string> Users { get; init; } = new Dictionary<string, string>();

    /// <summary>The TURN REST API shared secret (<see cref="NatPunch.Protocol.Turn.TurnRestCredentials"/>).</summary>
    public string? Secret { get; init; }

    /// <summary>
    /// How long a grant handed out with <c>registered</c> (and renewed with <c>grant</c> half way
    /// through) may be used to make allocations. An allocation made with it lives on after it expires
    /// (its refreshes use the same username), until the registration that got the grant ends. An
    /// hour: a grant that leaks is of little use for long.
    /// </summary>
    public TimeSpan GrantLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Insecure, for tests: TURN requests need no credentials at all.</summary>
    public bool NoAuth { get; init; }

    /// <summary>How long a NONCE stays valid before it is answered with 438 Stale Nonce.</summary>
    public TimeSpan NonceLifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Allocation lifetime when the client asks less or nothing (RFC 8656 §3.2: 10 minutes).</summary>
    public TimeSpan DefaultLifetime { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>Longest allocation lifetime granted.</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromSeconds(3600);

    /// <summary>Permission lifetime (RFC 8656 §9: 300 s, not configurable by clients).</summary>
    public TimeSpan PermissionLifetime { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Channel binding lifetime (RFC 8656 §12: 600 s).</summary>
    public TimeSpan ChannelLifetime { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>How long an EVEN-PORT reservation (RESERVATION-TOKEN) is kept (RFC 8656 §7.2: about 30 s).</summary>
    public TimeSpan ReservationLifetime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Allocations per user at once (a static user, or one registered peer's grant); 0 = no limit.
    /// Beyond it: 486 Allocation Quota Reached. A node needs one per relayed session.
    /// </summary>
    public int UserQuota { get; init; } = 128;

    /// <summary>Allocations at once from one source (an IPv4 address or an IPv6 /64), whoever the user; 0 = no limit. Beyond it: 486.</summary>
    public int AllocationsPerAddress { get; init; } = 256;

    /// <summary>Allocations in total at once; 0 = no limit. Beyond it: 486.</summary>
    public int TotalQuota { get; init; } = 16_384;

    /// <summary>Peer addresses one allocation may hold permissions for at once (a session needs a few); beyond it: 508 Insufficient Capacity. 0 = no limit.</summary>
    public int MaxPermissionsPerAllocation { get; init; } = 64;

    /// <summary>
    /// Relayed bytes per second per allocation, both directions together; 0 = no limit. Excess is
    /// dropped. 12.5 MB/s (100 Mbit/s) by default, so that one allocation cannot take a server's uplink.
    /// </summary>
    public long MaxBytesPerSecond { get; init; } = 12_500_000;

    /// <summary>
    /// Relayed bytes per second of all of one user's allocations together (a static user, or one
    /// registered peer's grant); 0 = no limit. Excess is dropped. 25 MB/s (200 Mbit/s) by default:
    /// a node relaying several sessions at once, but not a server's whole uplink.
    /// </summary>
    public long MaxBytesPerSecondPerUser { get; init; } = 25_000_000;

    /// <summary>
    /// Relayed bytes per second of all allocations from one source (an IPv4 address or an IPv6 /64)
    /// together, whoever the user; 0 = no limit. Excess is dropped. 50 MB/s (400 Mbit/s) by default:
    /// more than one user's, as a carrier NAT puts many users behind one address.
    /// </summary>
    public long MaxBytesPerSecondPerAddress { get; init; } = 50_000_000;

    /// <summary>Allow loopback peers (127.0.0.0/8, ::1): for tests on one host.</summary>
    public bool AllowLoopbackPeers { get; init; }

    /// <summary>Peer ranges allowed although the default policy denies them (private, link-local…).</summary>
    public IReadOnlyList<IPNetwork> AllowedPeers { get; init; } = [];

    /// <summary>Peer ranges always denied, checked before <see cref="AllowedPeers"/>.</summary>
    public IReadOnlyList<IPNetwork> DeniedPeers { get; init; } = [];

    /// <summary>Lowest relay port.</summary>
    public int MinPort { get; init; } = 49152;

    /// <summary>Highest relay port.</summary>
    public int MaxPort { get; init; } = 65535;

    /// <summary>
    /// Addresses to bind relays to, at most one per family. Empty: the listen address the request
    /// came to, or for a wildcard listen address, this host's address toward the client.
    /// </summary>
    public IReadOnlyList<IPAddress> RelayAddresses { get; init; } = [];

    /// <summary>SOFTWARE attribute in responses; null for none.</summary>
    public string? Software { get; init; } = "NatPunch";
}
