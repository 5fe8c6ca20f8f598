namespace NatPunch.Server.Rendezvous;

/// <summary>Settings of the rendezvous service.</summary>
public sealed record RendezvousOptions
{
    public static readonly RendezvousOptions Default = new();

    /// <summary>When set, clients must present this token to register.</summary>
    public string? Token { get; init; }

    /// <summary>How often the server pings each client (also measures the round-trip time).</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A client silent for this long is considered gone and unregistered.</summary>
    public TimeSpan DeadAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a session waits for an end whose connection ended to register again and resume it
    /// (a network change, a restart of this server) before its peer is told it left.
    /// </summary>
    public TimeSpan ResumeWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Upper bound on how long a connect may wait for its peer to register.</summary>
    public TimeSpan MaxConnectWait { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Names are 1–64 characters of letters, digits and "-_.@".</summary>
    public int MaxNameLength { get; init; } = 64;

    /// <summary>A connection must register a name within this time, or it is closed: no pinging without a name for ever.</summary>
    public TimeSpan RegisterTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest frame payload accepted (JSON bytes); a larger frame closes the connection. An offer with a hundred candidates is about 15 KB.</summary>
    public int MaxFrameLength { get; init; } = 32 * 1024;

    /// <summary>
    /// Messages one connection may send per second, on average (a token bucket of
    /// <see cref="MessageBurst"/>); beyond it the connection is closed. Generous, because one busy
    /// listener takes all its sessions' signalling through one connection (a node accepting 1,000
    /// sessions in 6 s sends several hundred a second).
    /// </summary>
    public double MessagesPerSecond { get; init; } = 300;

    /// <summary>Messages one connection may send at once before <see cref="MessagesPerSecond"/> applies.</summary>
    public int MessageBurst { get; init; } = 3000;

    /// <summary>
    /// Messages all connections from one source (an IPv4 address or an IPv6 /64) may send per second
    /// together, on average, in bursts of ten seconds' worth; beyond it the connection that sent the
    /// message is closed. Several nodes behind one NAT share it, so it is a few connections' worth.
    /// </summary>
    public double MessagesPerSecondPerAddress { get; init; } = 1000;

    /// <summary>
    /// Registrations (attempts, a wrong token included) one source, an IPv4 address or an IPv6 /64,
    /// may make per minute, in bursts of as many: bounds name churn, grant minting and token guessing.
    /// </summary>
    public int RegistrationsPerMinute { get; init; } = 60;
}
