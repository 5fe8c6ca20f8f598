using System.Net;

namespace NatPunch.Server.Internal;

/// <summary>
/// One <see cref="TokenBucket"/> per source (an IPv4 address or an IPv6 /64): so many a second on
/// average, in bursts of <paramref name="burst"/>. Buckets that are full again are forgotten once
/// there are many, so a scan of many addresses cannot grow it without bound. Not thread-safe.
/// </summary>
internal sealed class RateLimitPerSource(double perSecond, int burst)
{
    private const int ForgetIdleAbove = 4096;
    private readonly Dictionary<UInt128, TokenBucket> _buckets = [];

    /// <summary>Takes one from <paramref name="address"/>'s budget if there is one left.</summary>
    public bool TryTake(IPAddress address, TimeSpan now)
    {
        if (_buckets.Count >= ForgetIdleAbove)
        {
            foreach (UInt128 idle in _buckets.Where(e => e.Value.IsFull(now)).Select(e => e.Key).ToList())
            {
                _buckets.Remove(idle);
            }
        }
        UInt128 source = SourceKey.Of(address);
        if (!_buckets.TryGetValue(source, out TokenBucket? bucket))
        {
            bucket = new TokenBucket(perSecond, burst, now);
            _buckets[source] = bucket;
        }
        return bucket.TryTake(now);
    }
}
