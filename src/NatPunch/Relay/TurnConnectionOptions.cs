using System.Net;

namespace NatPunch.Relay;

/// <summary>Options of the <see cref="TurnClient"/> driver.</summary>
public sealed record TurnConnectionOptions
{
    /// <summary>UDP, protocol defaults.</summary>
    public static TurnConnectionOptions Default { get; } = new();

    /// <summary>UDP or TCP to the server.</summary>
    public TurnServerTransport Transport { get; init; } = TurnServerTransport.Udp;

    /// <summary>The local address to bind; the wildcard of the server's family if null.</summary>
    public IPEndPoint? LocalEndPoint { get; init; }

    /// <summary>The protocol core's options; <see cref="TurnClientOptions.Reliable"/> is set from <see cref="Transport"/>.</summary>
    public TurnClientOptions Client { get; init; } = TurnClientOptions.Default;

    /// <summary>Relayed datagrams kept for <see cref="TurnClient.ReceiveAsync"/>; beyond this, new ones are dropped.</summary>
    public int ReceiveQueueCapacity { get; init; } = 1024;

    /// <summary>How long <see cref="TurnClient.DisposeAsync"/> waits for the server to confirm the deletion.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
