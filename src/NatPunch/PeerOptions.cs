using NatPunch.Net;
using NatPunch.Relay;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch;

/// <summary>How a peer reaches the NatPunch server and how long it tries.</summary>
public sealed record PeerOptions
{
    /// <summary>
    /// The NatPunch server: <c>HOST[:PORT]</c> (STUN and rendezvous on one port, 3478 if left out; the
    /// rendezvous uses TLS when the server offers it, and TLS on 443 when 3478 cannot be reached),
    /// <c>tls://HOST[:PORT]</c> (the rendezvous and the relay's TCP over TLS only, port 443; STUN on 3478)
    /// or <c>tcp://HOST[:PORT]</c> (never TLS). See <see cref="ServerAddress"/>.
    /// </summary>
    public required string Server { get; init; }

    /// <summary>An HTTP proxy and a certificate pin for the TCP and TLS connections to the server (and to a TURN server over TCP).</summary>
    public ServerConnectionOptions ServerConnection { get; init; } = ServerConnectionOptions.Default;

    /// <summary>Our name in the rendezvous directory.</summary>
    public required string Name { get; init; }

    public string? Token { get; init; }

    /// <summary>
    /// For a connect: how long to wait for the peer to register and for a path to work, in all.
    /// For a listen: how long to try once a peer has been introduced.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Also offer loopback addresses (two peers on one machine, tests).</summary>
    public bool IncludeLoopbackCandidates { get; init; }

    /// <summary>UDP port to bind; 0 picks one.</summary>
    public int LocalPort { get; init; }

    /// <summary>
    /// Ask the default gateway to open the session's UDP port (PCP, NAT-PMP, UPnP-IGD) and offer the
    /// external address as a candidate: a peer behind a NAT that changes ports per destination can
    /// then be reached. On by default; never tried when the rendezvous server is on this host
    /// (loopback), since the peers then are too.
    /// </summary>
    public bool PortMapping { get; init; } = true;

    /// <summary>
    /// Offer TCP candidates and punch TCP connections to the peer's (simultaneous open), for networks
    /// that block UDP: docs/tcp-punching.md. On by default; Linux only (elsewhere nothing is offered).
    /// </summary>
    public bool TcpPunching { get; init; } = true;

    /// <summary>
    /// How long gathering may hold up the registration. The STUN server normally answers within one
    /// round trip; when UDP is blocked it never does, and the relay (over TCP) is what matters then.
    /// </summary>
    public TimeSpan GatherWait { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a waiting listener refreshes its NAT mapping with the STUN server.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// ICE timing. Consent checks declare a silent path dead after 15 s here (RFC 7675 allows up
    /// to 30 s); the session then re-establishes it through the rendezvous.
    /// </summary>
    public IceAgentOptions Ice { get; init; } = IceAgentOptions.Default with { ConsentTimeout = TimeSpan.FromSeconds(15) };

    /// <summary>
    /// The stream gives up on a peer that acknowledges nothing for this long: long enough for a
    /// dead path to be noticed and re-established underneath it.
    /// </summary>
    public TimeSpan StreamPeerTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How many streams the peer may have open on a connection at once (QUIC's MAX_STREAMS): it is told,
    /// and its <see cref="PeerConnection.OpenStreamAsync"/> waits while that many are open.
    /// </summary>
    public uint MaxIncomingStreams { get; init; } = 1024;

    /// <summary>Whether a relay may carry the connection (<c>--relay</c>).</summary>
    public RelayMode Relay { get; init; } = RelayMode.Auto;

    /// <summary>
    /// A TURN server to relay through instead of the NatPunch server's own (<c>--turn</c>); it needs
    /// <see cref="TurnCredentials"/>. Null: the NatPunch server's relay, with the short-lived
    /// credentials its rendezvous hands out.
    /// </summary>
    public TurnServerUri? TurnServer { get; init; }

    /// <summary>Credentials for <see cref="TurnServer"/> (<c>--turn-user</c> or <c>--turn-secret</c>).</summary>
    public TurnCredentials? TurnCredentials { get; init; }

    /// <summary>Our long-term key pair (see <see cref="IdentityFile"/>). Null: a fresh one for this connection only.</summary>
    public PeerIdentity? Identity { get; init; }

    /// <summary>Connecting: accept only a peer that proves this key.</summary>
    public PeerKey? PeerKey { get; init; }

    /// <summary>Listening: accept only peers that prove one of these keys; empty: any key (subject to <see cref="KnownPeers"/>).</summary>
    public IReadOnlyList<PeerKey> AllowedKeys { get; init; } = [];

    /// <summary>
    /// Remembers each peer's key by name and refuses a changed one (ssh's known_hosts). Used when
    /// neither <see cref="PeerKey"/> nor <see cref="AllowedKeys"/> decides. Null: nothing is remembered.
    /// </summary>
    public KnownPeers? KnownPeers { get; init; }

    /// <summary>Timing of the handshake and rekeying.</summary>
    public SessionHandshakeOptions Handshake { get; init; } = SessionHandshakeOptions.Default;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
