using NatPunch.Server.Internal;

namespace NatPunch.Server.Turn;

/// <summary>The bandwidth limits an allocation's relayed data counts against: its own, its user's and its source address's; null = no limit.</summary>
internal readonly record struct RelayBandwidth(TokenBucket? Own, TokenBucket? User, TokenBucket? Source)
{
    /// <summary>A bucket of <paramref name="bytesPerSecond"/> holding one second's worth, full at <paramref name="now"/>; null for no limit (0).</summary>
    public static TokenBucket? Limit(long bytesPerSecond, DateTimeOffset now) =>
        bytesPerSecond > 0 ? new TokenBucket(bytesPerSecond, bytesPerSecond, Clock(now)) : null;

    /// <summary>The TURN core's wall clock as a bucket's clock.</summary>
    public static TimeSpan Clock(DateTimeOffset now) => TimeSpan.FromTicks(now.UtcTicks);
}
