namespace NatPunch.Discovery;

/// <summary>
/// How long a UDP mapping survives without traffic (RFC 5780 §4.6, RFC 4787 §4.3), as a range:
/// the mapping was alive after <see cref="AtLeast"/> of silence and gone after <see cref="AtMost"/>.
/// </summary>
public sealed record MappingLifetimeEstimate
{
    /// <summary>Longest idle time after which the mapping still worked; null if none did.</summary>
    public TimeSpan? AtLeast { get; init; }

    /// <summary>Shortest idle time after which it had expired; null if it outlived every probe.</summary>
    public TimeSpan? AtMost { get; init; }

    /// <summary>Idle times probed.</summary>
    public int Probes { get; init; }

    /// <summary>Rounds of the search.</summary>
    public int Rounds { get; init; }

    /// <summary>Why the search stopped where it did, or why it could not run.</summary>
    public string? Note { get; init; }

    /// <summary>A keep-alive interval that stays inside the measured lifetime, if any was measured.</summary>
    public TimeSpan? SuggestedKeepAlive => AtLeast is { } alive && alive > TimeSpan.Zero
        ? TimeSpan.FromSeconds(Math.Max(1, Math.Floor(alive.TotalSeconds * 0.8)))
        : null;
}
