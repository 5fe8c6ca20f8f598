namespace NatPunch.Streams.Internal;

/// <summary>
/// Bytes addressed by absolute 64-bit stream offset, stored at <c>offset % length</c>. The owner
/// keeps every live range shorter than the ring; the ring itself tracks no positions. It starts
/// small and grows (re-laying out the live range) up to a fixed maximum, so that an idle stream
/// costs little memory while a busy one gets its full buffer.
/// </summary>
internal sealed class ByteRing
{
    private const int InitialLength = 16 * 1024;
    private byte[] _buffer;

    public ByteRing(int maxLength)
    {
        MaxLength = maxLength;
        _buffer = new byte[Math.Min(InitialLength, maxLength)];
    }

    public int MaxLength { get; }

    public int Length => _buffer.Length;

    /// <summary>Makes room for the live range [<paramref name="liveStart"/>, <paramref name="requiredEnd"/>), keeping the bytes of [liveStart, liveEnd).</summary>
    public void EnsureCapacity(long liveStart, long liveEnd, long requiredEnd)
    {
        long needed = requiredEnd - liveStart;
        if (needed <= _buffer.Length)
        {
            return;
        }
        if (needed > MaxLength)
        {
            throw new InvalidOperationException($"Ring of at most {MaxLength} bytes cannot hold {needed}.");
        }
        long newLength = _buffer.Length;
        while (newLength < needed)
        {
            newLength *= 2;
        }
        var bigger = new byte[Math.Min(newLength, MaxLength)];
        long liveLength = liveEnd - liveStart;
        if (liveLength > 0)
        {
            var live = new byte[liveLength];
            Read(liveStart, live);
            _buffer = bigger;
            Write(liveStart, live);
        }
        else
        {
            _buffer = bigger;
        }
    }

    public void Write(long position, ReadOnlySpan<byte> source)
    {
        int index = (int)(position % _buffer.Length);
        int first = Math.Min(source.Length, _buffer.Length - index);
        source[..first].CopyTo(_buffer.AsSpan(index));
        source[first..].CopyTo(_buffer);
    }

    public void Read(long position, Span<byte> destination)
    {
        int index = (int)(position % _buffer.Length);
        int first = Math.Min(destination.Length, _buffer.Length - index);
        _buffer.AsSpan(index, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }
}
