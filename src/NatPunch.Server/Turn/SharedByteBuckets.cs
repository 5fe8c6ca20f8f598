using NatPunch.Server.Internal;

namespace NatPunch.Server.Turn;

/// <summary>
/// One bandwidth <see cref="TokenBucket"/> per key (a user, a source address), shared by every allocation of
/// that key: made with the key's first allocation, forgotten with its last. No buckets when the
/// limit is 0. Not thread-safe.
/// </summary>
internal sealed class SharedByteBuckets<TKey>(long bytesPerSecond, IEqualityComparer<TKey>? comparer = null) where TKey : notnull
{
    private readonly Dictionary<TKey, Entry> _entries = new(comparer);

    /// <summary>Keys with at least one allocation (for tests).</summary>
    public int Count => _entries.Count;

    /// <summary>The key's bucket, for one more allocation; null when there is no limit.</summary>
    public TokenBucket? Acquire(TKey key, DateTimeOffset now)
    {
        if (bytesPerSecond <= 0)
        {
            return null;
        }
        if (!_entries.TryGetValue(key, out Entry? entry))
        {
            entry = new Entry(RelayBandwidth.Limit(bytesPerSecond, now)!);
            _entries[key] = entry;
        }
        entry.Allocations++;
        return entry.Bucket;
    }

    /// <summary>One allocation of the key is gone.</summary>
    public void Release(TKey key)
    {
        if (_entries.TryGetValue(key, out Entry? entry) && --entry.Allocations <= 0)
        {
            _entries.Remove(key);
        }
    }

    private sealed class Entry(TokenBucket bucket)
    {
        public TokenBucket Bucket { get; } = bucket;
        public int Allocations { get; set; }
    }
}
