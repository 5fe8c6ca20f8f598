namespace NatPunch.Discovery;

/// <summary>
/// The bounded search for the mapping lifetime (RFC 5780 §4.6). Each round opens
/// <see cref="ProbesPerRound"/> fresh sockets at once, binds each, leaves each idle for a different
/// time and then asks the server, from another socket and with RESPONSE-PORT, to answer to the idle
/// socket's mapped port: an answer means the mapping survived. The first round spreads the idle
/// times evenly up to <see cref="MaxIdle"/>; later rounds split the interval between the longest
/// survival and the shortest expiry, until it is narrower than <see cref="Resolution"/> or the
/// next round would not end within <see cref="Budget"/>.
/// </summary>
public sealed record MappingLifetimeOptions
{
    public static MappingLifetimeOptions Default { get; } = new();

    /// <summary>The longest idle time probed (RFC 4787 REQ-5 asks NATs for at least 2 minutes).</summary>
    public TimeSpan MaxIdle { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Stop once the lifetime is known to within this.</summary>
    public TimeSpan Resolution { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Idle times probed in parallel in one round, each on its own socket.</summary>
    public int ProbesPerRound { get; init; } = 4;

    /// <summary>The whole search ends within this time (a round that would overrun is not started).</summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(300);

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxIdle, TimeSpan.Zero, nameof(MaxIdle));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Resolution, TimeSpan.Zero, nameof(Resolution));
        ArgumentOutOfRangeException.ThrowIfLessThan(ProbesPerRound, 1, nameof(ProbesPerRound));
        ArgumentOutOfRangeException.ThrowIfLessThan(Budget, MaxIdle, nameof(Budget));
    }
}
