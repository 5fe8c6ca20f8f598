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
}
