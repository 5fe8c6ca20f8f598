using System.Threading.Channels;
using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>An in-process datagram path between two <see cref="ReliableStream"/>s, with a drop filter.</summary>
public sealed class MemorySegmentChannel : ISegmentChannel
{
    private readonly Channel<byte[]> _inbox = Channel.CreateUnbounded<byte[]>();
    private MemorySegmentChannel _peer = null!;

    public static (MemorySegmentChannel A, MemorySegmentChannel B) CreatePair()
    {
        var a = new MemorySegmentChannel();
        var b = new MemorySegmentChannel();
        a._peer = b;
        b._peer = a;
        return (a, b);
    }

    /// <summary>Return true to drop an outgoing segment. Read on the sending loop's thread.</summary>
    public volatile Func<byte[], bool>? DropFilter;

    /// <summary>When set, the next receive throws it (a failing path).</summary>
    public volatile Exception? ReceiveFailure;

    public ValueTask SendAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken)
    {
        byte[] copy = segment.ToArray();
        if (DropFilter?.Invoke(copy) != true)
        {
            _peer._inbox.Writer.TryWrite(copy);
        }
        return ValueTask.CompletedTask;
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (ReceiveFailure is { } failure)
        {
            throw failure;
        }
        byte[] datagram = await _inbox.Reader.ReadAsync(cancellationToken);
        int length = Math.Min(datagram.Length, buffer.Length);
        datagram.AsSpan(0, length).CopyTo(buffer.Span);
        return length;
    }

    /// <summary>Wakes a pending receive so it sees <see cref="ReceiveFailure"/>.</summary>
    public void Poke() => _inbox.Writer.TryWrite([]);
}

/// <summary>Wraps a channel and drops a fraction of the segments it sends.</summary>
public sealed class LossySegmentChannel(ISegmentChannel inner, double dropRate, int seed) : ISegmentChannel
{
    private readonly Random _random = new(seed); // only the owning stream's loop sends
    private long _dropped;

    public long Dropped => Interlocked.Read(ref _dropped);

    public ValueTask SendAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken)
    {
        if (_random.NextDouble() < dropRate)
        {
            Interlocked.Increment(ref _dropped);
            return ValueTask.CompletedTask;
        }
        return inner.SendAsync(segment, cancellationToken);
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        inner.ReceiveAsync(buffer, cancellationToken);
}
