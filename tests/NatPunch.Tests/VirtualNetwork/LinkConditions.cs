namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// How one direction of a <see cref="Link"/> treats packets. Each packet independently may be lost,
/// is delayed by <see cref="Latency"/> plus a uniform random share of <see cref="Jitter"/> (so packets
/// sent close together can arrive out of order, as jitter does on real paths), and may be duplicated
/// (the copy gets its own delay). With <see cref="BandwidthBitsPerSecond"/> set, packets also queue
/// behind each other for their serialization time and are dropped when the queue is full.
/// </summary>
public sealed record LinkConditions
{
    /// <summary>No delay, no loss: the default for every link.</summary>
    public static readonly LinkConditions Perfect = new();

    /// <summary>One-way propagation delay.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>Extra delay drawn uniformly from [0, Jitter] for each packet.</summary>
    public TimeSpan Jitter { get; init; }

    /// <summary>Probability (0–1, not percent) that a packet is lost.</summary>
    public double LossRate
    {
        get;
        init => field = CheckProbability(value, nameof(LossRate));
    }

    /// <summary>Probability (0–1, not percent) that a packet is delivered twice.</summary>
    public double DuplicationRate
    {
        get;
        init => field = CheckProbability(value, nameof(DuplicationRate));
    }

    /// <summary>Serialization rate; null for unlimited. Counts IP and UDP headers (<see cref="Packet.HeaderBytes"/>).</summary>
    public long? BandwidthBitsPerSecond
    {
        get;
        init => field = value is null or > 0 ? value : throw new ArgumentOutOfRangeException(nameof(BandwidthBitsPerSecond), value, "must be positive");
    }

    /// <summary>Bytes a bandwidth-limited link may hold waiting to be sent before it drops (drop-tail).</summary>
    public int QueueLimitBytes { get; init; } = 64 * 1024;

    /// <summary>A link with only a fixed one-way delay.</summary>
    public static LinkConditions WithLatency(TimeSpan latency) => new() { Latency = latency };

    /// <summary>A link with a fixed one-way delay in milliseconds.</summary>
    public static LinkConditions WithLatency(double milliseconds) => WithLatency(TimeSpan.FromMilliseconds(milliseconds));

    private static double CheckProbability(double value, string name) =>
        value is >= 0 and <= 1 ? value : throw new ArgumentOutOfRangeException(name, value, "a probability between 0 and 1 (not a percentage)");
}
