using System.Buffers;

namespace NatPunch.Streams;

/// <summary>
/// The segments a stream's loop polls in one turn, handed to the channel together
/// (<see cref="ISegmentBatchChannel"/>) so that the path under it can send them in one system call.
/// The buffer is rented for the turn only: an idle stream holds none.
/// </summary>
internal sealed class SegmentBatch
{
    /// <summary>Segments per batch: 32 of 1,200 bytes fit one UDP GSO send (at most 64 datagrams, 64 KB).</summary>
    public const int DefaultCapacity = 32;

    private readonly int _slotSize;
    private readonly int[] _lengths;
    private byte[]? _buffer;

    public SegmentBatch(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 1);
        _lengths = new int[capacity];
        _slotSize = slotSize;
    }

    public int Count { get; private set; }

    public int Capacity => _lengths.Length;

    public bool IsFull => Count == Capacity;

    /// <summary>Where the next segment is written (<see cref="Commit"/> then adds it).</summary>
    public Span<byte> NextSlot => Buffer.AsSpan(Count * _slotSize, _slotSize);

    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
            return Buffer.AsSpan(index * _slotSize, _lengths[index]);
        }
    }

    /// <summary>Adds the <paramref name="length"/> bytes just written at <see cref="NextSlot"/>.</summary>
    public void Commit(int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _slotSize);
        if (IsFull)
        {
            throw new InvalidOperationException("The batch is full.");
        }
        _lengths[Count++] = length;
    }

    public void Clear() => Count = 0;

    /// <summary>Gives the buffer back to the pool until the next turn.</summary>
    public void Release()
    {
        Count = 0;
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private byte[] Buffer => _buffer ??= ArrayPool<byte>.Shared.Rent(_lengths.Length * _slotSize);
}
