using NatPunch.Net;

namespace NatPunch.Rendezvous;

/// <summary>Settings of <see cref="RendezvousClient"/>.</summary>
public sealed record RendezvousClientOptions
{
    /// <summary>The NatPunch server: <c>HOST[:PORT]</c>, <c>tls://HOST[:PORT]</c> or <c>tcp://HOST[:PORT]</c> (<see cref="ServerAddress"/>).</summary>
    public required string Server { get; init; }

    /// <summary>Proxy and certificate pin for the connection to the server.</summary>
    public ServerConnectionOptions Connection { get; init; } = ServerConnectionOptions.Default;

    /// <summary>The name to register under.</summary>
    public required string Name { get; init; }

    public string? Token { get; init; }

    /// <summary>How often the client pings the server; the server's silence for <see cref="DeadAfter"/> means the connection is gone.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan DeadAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait between reconnection attempts (the first is after 250 ms, doubling).</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(4);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
