namespace NatPunch.Tests.Streams;

/// <summary>One direction of a simulated path.</summary>
public sealed record LinkConditions
{
    public static LinkConditions Perfect { get; } = new();

    /// <summary>One-way propagation delay.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Extra delay, uniform in [0, Jitter]; reorders segments when larger than their spacing.</summary>
    public TimeSpan Jitter { get; init; }

    /// <summary>Probability that a datagram is dropped.</summary>
    public double Loss { get; init; }

    /// <summary>Probability that a datagram is delivered twice.</summary>
    public double Duplication { get; init; }

    /// <summary>Probability that a datagram is held back by <see cref="ReorderDelay"/>.</summary>
    public double Reordering { get; init; }

    public TimeSpan ReorderDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Bottleneck rate; null for unlimited.</summary>
    public long? BitsPerSecond { get; init; }

    /// <summary>Drop-tail queue in front of the bottleneck.</summary>
    public int QueueBytes { get; init; } = 64 * 1024;

    /// <summary>Per-datagram bytes below the stream segment that the bottleneck also carries (session, UDP, IPv4).</summary>
    public int OverheadBytes { get; init; } = 60;
}
