using System.Numerics;

namespace NatPunch.Cli.Bench;

/// <summary>
/// Counts latencies in nanoseconds in log-linear buckets (as HdrHistogram does): exact below 128 ns,
/// then 64 buckets per power of two, so any reported value is within 1.6% of the true one.
/// Recording is one array increment; one histogram per thread, merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits;   // 64 per power of two
    private const int ExactBelow = 2 * SubBuckets;       // 0..127 ns counted exactly
    private const int MaxShift = 40;                     // up to ~2^46 ns (~19 hours)

    private readonly long[] _counts = new long[ExactBelow + MaxShift * SubBuckets];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0)
        {
            nanoseconds = 0;
        }
        _counts[IndexOf(nanoseconds)]++;
        Count++;
        if (nanoseconds > Max)
        {
            Max = nanoseconds;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The latency below which <paramref name="quantile"/> (0–1) of the samples fall; 0 if there are none.</summary>
    public long ValueAtQuantile(double quantile)
    {
        if (Count == 0)
        {
            return 0;
        }
        long rank = Math.Max(1, (long)Math.Ceiling(quantile * Count));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(MidpointOf(i), Max);
            }
        }
        return Max;
    }

    private static int IndexOf(long value)
    {
        if (value < ExactBelow)
        {
            return (int)value;
        }
        int highestBit = 63 - BitOperations.LeadingZeroCount((ulong)value);
        int shift = Math.Min(highestBit - SubBucketBits, MaxShift);
        long top = Math.Min(value >> shift, 2 * SubBuckets - 1); // in [64, 128)
        return ExactBelow + (shift - 1) * SubBuckets + (int)(top - SubBuckets);
    }

    private static long MidpointOf(int index)
    {
        if (index < ExactBelow)
        {
            return index;
        }
        int shift = (index - ExactBelow) / SubBuckets + 1;
        long top = (index - ExactBelow) % SubBuckets + SubBuckets;
        return (top << shift) + ((1L << shift) - 1) / 2;
    }
}
