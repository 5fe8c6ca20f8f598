namespace NatPunch.Streams;

/// <summary>
/// The datagram path under a <see cref="ReliableStream"/>: whole segments out and in, unreliable
/// and unordered. Implementations must allow one <see cref="SendAsync"/> to run concurrently with
/// one <see cref="ReceiveAsync"/> (the stream never overlaps two of the same kind). Datagrams that
/// are lost, or that the path cannot deliver right now, are simply not delivered: only a failure
/// of the path itself (closed socket, broken session) should throw.
/// </summary>
public interface ISegmentChannel
{
    ValueTask SendAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken);

    /// <summary>Waits for the next segment, copies it into <paramref name="buffer"/> and returns its length.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);
}
