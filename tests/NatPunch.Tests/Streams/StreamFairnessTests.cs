using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>
/// Streams of one session that share a bottleneck (each with its own reliability and flow control,
/// all with one congestion window, as the mux gives them): they share it fairly, and together they
/// use it as well as one stream does. Deterministic, on the fake clock.
/// </summary>
public class StreamFairnessTests
{
    private static readonly LinkConditions Return = new() { Delay = TimeSpan.FromMilliseconds(10) };

    /// <summary>A 20 ms RTT bottleneck with a queue of about one bandwidth-delay product (at least 64 KB).</summary>
    private static LinkConditions Bottleneck(long bitsPerSecond) => new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        BitsPerSecond = bitsPerSecond,
        QueueBytes = (int)Math.Max(64 * 1024, bitsPerSecond / 8 / 50),
    };

    /// <summary>Goodput of all streams together over the first <paramref name="window"/>, and each stream's bytes read by then.</summary>
    private static (double Mbit, long[] PerStream) Measure(int streams, long bitsPerSecond, TimeSpan window, int seed)
    {
        // Each stream has more than the whole window could carry, so none finishes early.
        long bytesEach = bitsPerSecond / 8 * (long)window.TotalSeconds * 2;
        var simulation = new SharedLinkSimulation(streams, Bottleneck(bitsPerSecond), Return, bytesEach, seed);
        simulation.Run(window + TimeSpan.FromSeconds(1), s => s.Now >= window);
        long[] perStream = [.. simulation.Receivers.Select(r => r.BytesRead)];
        return (perStream.Sum() * 8 / window.TotalSeconds / 1e6, perStream);
    }

    /// <remarks>
    /// 100 streams on 10 Mbit/s × 20 ms are not asked for: the path holds 77 segments (one BDP and the
    /// queue), fewer than one per stream, and a stream may always have one in flight, so it is
    /// overrun for good (as it would be by 100 TCP connections). On 100 Mbit/s it holds 430.
    /// </remarks>
    [Theory]
    [InlineData(10, 10_000_000, 30)]
    [InlineData(100, 100_000_000, 10)]
    public void StreamsSharingABottleneckGetFairSharesAndTogetherMatchOneStream(int streams, long bitsPerSecond, int seconds)
    {
        TimeSpan window = TimeSpan.FromSeconds(seconds);
        (double one, _) = Measure(1, bitsPerSecond, window, seed: 1);
        (double together, long[] shares) = Measure(streams, bitsPerSecond, window, seed: 1);

        double ratio = together / one;
        double fairness = (double)shares.Max() / Math.Max(1, shares.Min());
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"one stream {one:0.00} Mbit/s; {streams} streams {together:0.00} Mbit/s together ({ratio:0.000} of one); shares max/min {fairness:0.00}");
        ratio.ShouldBeGreaterThanOrEqualTo(0.9, "together within 10 % of one stream");
        fairness.ShouldBeLessThanOrEqualTo(1.5, $"shares {string.Join(", ", shares)}");
    }
}
