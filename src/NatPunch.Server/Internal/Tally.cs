namespace NatPunch.Server.Internal;

/// <summary>How many of something each key holds (allocations per user, connections per source); keys at zero are forgotten. Not thread-safe.</summary>
internal sealed class Tally<TKey>(IEqualityComparer<TKey>? comparer = null) where TKey : notnull
{
    private readonly Dictionary<TKey, int> _counts = new(comparer);

    public int this[TKey key] => _counts.GetValueOrDefault(key);

    /// <summary>Keys holding at least one.</summary>
    public int Keys => _counts.Count;

    public void Add(TKey key) => _counts[key] = _counts.GetValueOrDefault(key) + 1;

    public void Remove(TKey key)
    {
        if (_counts.TryGetValue(key, out int count) && count > 1)
        {
            _counts[key] = count - 1;
        }
        else
        {
            _counts.Remove(key);
        }
    }
}
