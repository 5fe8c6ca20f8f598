using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>
/// Streams of one session that share a bottleneck (the mux gives each its own reliability and
/// congestion control): they share it fairly, and together they use it as well as one stream does.
/// Deterministic, on the fake clock.
/// <para>
/// Not yet at 100 streams: their 100 initial windows (1.2 MB at once into a 64 KB queue) lose so much
/// that some streams back off for most of the 30 s and others take the link (max/min in the millions;
/// together still 1.00 of one stream). That needs one congestion controller for the session, as
/// QUIC has per connection (docs/benchmarks.md).
/// </para>
/// </summary>
public class StreamFairnessTests
{
    private static readonly LinkConditions Bottleneck = new()
    {
        Delay = TimeSpan.FromMilliseconds(10),
        BitsPerSecond = 10_000_000,
        QueueBytes = 64 * 1024,
    };

    private static readonly LinkConditions Return = new() { Delay = TimeSpan.FromMilliseconds(10) };

    /// <summary>Goodput of all streams together over the first <paramref name="window"/>, and each stream's bytes read by then.</summary>
    private static (double Mbit, long[] PerStream) Measure(int streams, TimeSpan window, int seed)
    {
        var simulation = new SharedLinkSimulation(streams, Bottleneck, Return, bytesEach: 100_000_000, seed);
        simulation.Run(window + TimeSpan.FromSeconds(1), s => s.Now >= window);
        long[] perStream = [.. simulation.Receivers.Select(r => r.BytesRead)];
        return (perStream.Sum() * 8 / window.TotalSeconds / 1e6, perStream);
    }

    [Theory]
    [InlineData(10)]
    public void StreamsSharingABottleneckGetFairSharesAndTogetherMatchOneStream(int streams)
    {
        TimeSpan window = TimeSpan.FromSeconds(30);
        (double one, _) = Measure(1, window, seed: 1);
        (double together, long[] shares) = Measure(streams, window, seed: 1);

        double ratio = together / one;
        double fairness = (double)shares.Max() / Math.Max(1, shares.Min());
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"one stream {one:0.00} Mbit/s; {streams} streams {together:0.00} Mbit/s together ({ratio:0.000} of one); shares max/min {fairness:0.00}");
        ratio.ShouldBeGreaterThanOrEqualTo(0.9, "together within 10 % of one stream");
        fairness.ShouldBeLessThanOrEqualTo(1.5, $"shares {string.Join(", ", shares)}");
    }
}
