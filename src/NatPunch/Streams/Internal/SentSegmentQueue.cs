namespace NatPunch.Streams.Internal;

/// <summary>
/// The sender's outstanding <see cref="SentSegment"/>s in sequence order, with cheap removal from
/// the front (cumulative ACKs) and binary search by sequence number (SACK blocks).
/// </summary>
internal sealed class SentSegmentQueue
{
    private readonly List<SentSegment> _items = [];
    private int _head;

    public int Count => _items.Count - _head;

    public SentSegment this[int index] => _items[_head + index];

    public SentSegment First => _items[_head];

    public SentSegment Last => _items[^1];

    public void Add(SentSegment segment) => _items.Add(segment);

    public void RemoveFirst()
    {
        _items[_head] = null!;
        _head++;
        // Compact once the dead prefix dominates, so removal stays amortised O(1).
        if (_head > 64 && _head * 2 > _items.Count)
        {
            _items.RemoveRange(0, _head);
            _head = 0;
        }
    }

    /// <summary>Index of the first segment whose start is at or after <paramref name="sequence"/>.</summary>
    public int LowerBound(long sequence)
    {
        int lo = 0, hi = Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (this[mid].Start < sequence)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    public void Clear()
    {
        _items.Clear();
        _head = 0;
    }
}
