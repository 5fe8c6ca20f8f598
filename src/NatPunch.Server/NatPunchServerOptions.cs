using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Server.Rendezvous;
using NatPunch.Server.Turn;

namespace NatPunch.Server;

/// <summary>Settings of <see cref="NatPunchServer"/>.</summary>
public sealed record NatPunchServerOptions
{
    /// <summary>Dual-stack wildcard on the standard port: IPv4 and IPv6 clients, UDP and TCP.</summary>
    public static readonly NatPunchServerOptions Default = new();

    /// <summary>Addresses to serve on, each over UDP and TCP. Empty means [::]:3478 (dual stack) or 0.0.0.0:3478.</summary>
    public IReadOnlyList<IPEndPoint> Listen { get; init; } = [];

    /// <summary>
    /// A second IP of this host. With it, the first listen address and this one are served on
    /// port and port+1, and RFC 5780 NAT behaviour discovery works against the server.
    /// </summary>
    public IPAddress? AlternateAddress { get; init; }

    /// <summary>
    /// The TLS certificate (PEM; the server's certificate first, then its chain) for STUN, TURN and the
    /// rendezvous over TLS. With it (and <see cref="TlsKeyFile"/>) every TCP port accepts TLS as well as
    /// plain TCP, told apart by the first byte. Reloaded when the file changes.
    /// </summary>
    public string? TlsCertificateFile { get; init; }

    /// <summary>The private key of <see cref="TlsCertificateFile"/> (PEM, PKCS#8, PKCS#1 or SEC1).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>
    /// More TCP ports, TCP only, that serve TLS (and plain TCP): 443 for networks that let nothing else
    /// out, 5349 for <c>turns:</c>. Needs <see cref="TlsCertificateFile"/>.
    /// </summary>
    public IReadOnlyList<IPEndPoint> TlsListen { get; init; } = [];

    /// <summary>How long a TCP connection may stay silent before it is closed.</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>At most this many TCP connections at once; further ones are closed at once.</summary>
    public int MaxTcpConnections { get; init; } = 10_000;

    /// <summary>
    /// At most this many TCP connections at once from one source: an IPv4 address, or an IPv6 /64.
    /// Enough for a household or an office behind one NAT; far from the global cap, so one source
    /// cannot fill it.
    /// </summary>
    public int MaxTcpConnectionsPerAddress { get; init; } = 100;

    /// <summary>A new TCP connection must send its first bytes within this time, or it is closed.</summary>
    public TimeSpan TcpHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A message (STUN, TURN, ChannelData or rendezvous frame) that has begun must be complete within
    /// this time, or the connection is closed: a minimum data rate (about 6.5 KB/s for the largest,
    /// 64 KiB), against clients that hold a connection open by trickling a byte now and then.
    /// </summary>
    public TimeSpan TcpMessageTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A refusal of one kind is logged at most once per this interval (with how many more there were); all are counted.</summary>
    public TimeSpan RefusalLogInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The rendezvous service: token, liveness timing.</summary>
    public RendezvousOptions Rendezvous { get; init; } = RendezvousOptions.Default;

    /// <summary>The TURN relay (RFC 8656) on the same port; on unless <see cref="TurnOptions.Enabled"/> is false.</summary>
    public TurnOptions Turn { get; init; } = TurnOptions.Default;

    /// <summary>The listen addresses with the default filled in.</summary>
    internal IReadOnlyList<IPEndPoint> EffectiveListen =>
        Listen.Count > 0 ? Listen : [new IPEndPoint(IPAddress.IPv6Any, StunConstants.DefaultPort)];
}
