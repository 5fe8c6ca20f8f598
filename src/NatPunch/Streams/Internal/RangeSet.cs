namespace NatPunch.Streams.Internal;

/// <summary>
/// Disjoint, non-adjacent, sorted byte ranges: the out-of-order data a receiver holds above its
/// cumulative acknowledgment point, from which SACK blocks are reported.
/// </summary>
internal sealed class RangeSet
{
    private readonly List<ByteRange> _ranges = [];

    public int Count => _ranges.Count;

    public ByteRange this[int index] => _ranges[index];

    public long TotalBytes { get; private set; }

    /// <summary>Adds [start, end) and returns how many of its bytes were not already present.</summary>
    public long Add(long start, long end)
    {
        if (end <= start)
        {
            return 0;
        }
        // First range that ends at or after start (it may touch or overlap the new one).
        int lo = 0, hi = _ranges.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ranges[mid].End < start)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        int first = lo;
        long mergedStart = start, mergedEnd = end, covered = 0;
        int last = first;
        while (last < _ranges.Count && _ranges[last].Start <= end)
        {
            ByteRange r = _ranges[last];
            covered += Math.Max(0, Math.Min(r.End, end) - Math.Max(r.Start, start));
            mergedStart = Math.Min(mergedStart, r.Start);
            mergedEnd = Math.Max(mergedEnd, r.End);
            TotalBytes -= r.Length;
            last++;
        }
        _ranges.RemoveRange(first, last - first);
        _ranges.Insert(first, new ByteRange(mergedStart, mergedEnd));
        TotalBytes += mergedEnd - mergedStart;
        return end - start - covered;
    }

    /// <summary>Removes and returns the first range if it starts at or before <paramref name="position"/>.</summary>
    public bool TryTakeFirstStartingAtOrBefore(long position, out ByteRange range)
    {
        if (_ranges.Count > 0 && _ranges[0].Start <= position)
        {
            range = _ranges[0];
            _ranges.RemoveAt(0);
            TotalBytes -= range.Length;
            return true;
        }
        range = default;
        return false;
    }

    /// <summary>Index of the range containing <paramref name="position"/>, or -1.</summary>
    public int IndexOf(long position)
    {
        int lo = 0, hi = _ranges.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ByteRange r = _ranges[mid];
            if (position < r.Start)
            {
                hi = mid - 1;
            }
            else if (position >= r.End)
            {
                lo = mid + 1;
            }
            else
            {
                return mid;
            }
        }
        return -1;
    }

    public long HighestEnd => _ranges.Count > 0 ? _ranges[^1].End : long.MinValue;

    public void Clear()
    {
        _ranges.Clear();
        TotalBytes = 0;
    }
}
