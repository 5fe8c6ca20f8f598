namespace NatPunch.Streams.Internal;

/// <summary>A half-open range [Start, End) of 64-bit stream offsets.</summary>
internal readonly record struct ByteRange(long Start, long End)
{
    public long Length => End - Start;
}
