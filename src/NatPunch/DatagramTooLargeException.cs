namespace NatPunch;

/// <summary>A datagram larger than the session's path carries in one packet (<see cref="PeerConnection.MaxDatagramSize"/>).</summary>
public sealed class DatagramTooLargeException(int size, int maxSize)
    : ArgumentException($"a datagram of {size} bytes does not fit the path: at most {maxSize} bytes")
{
    public int Size { get; } = size;

    /// <summary>The largest datagram the path carried when the send was refused.</summary>
    public int MaxSize { get; } = maxSize;
}
