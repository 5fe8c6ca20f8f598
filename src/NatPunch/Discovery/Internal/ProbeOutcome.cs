using NatPunch.Stun;

namespace NatPunch.Discovery.Internal;

/// <summary>How one <see cref="DiscoveryProbe"/> ended.</summary>
internal sealed record ProbeOutcome(ProbeResult Result)
{
    /// <summary>The response, for <see cref="ProbeResult.Response"/>.</summary>
    public StunResponse? Response { get; init; }

    /// <summary>The socket the response arrived on.</summary>
    public int ReceivedOnSocketId { get; init; } = DiscoverySockets.None;

    /// <summary>Words on a failure.</summary>
    public string? Detail { get; init; }

    public static ProbeOutcome Answered(StunResponse response, int socketId) =>
        new(ProbeResult.Response) { Response = response, ReceivedOnSocketId = socketId };

    public static ProbeOutcome TimedOut(string? detail = null) => new(ProbeResult.TimedOut) { Detail = detail };

    public static ProbeOutcome Failed(string detail) => new(ProbeResult.Failed) { Detail = detail };

    public static ProbeOutcome Received(int socketId) => new(ProbeResult.Received) { ReceivedOnSocketId = socketId };
}
