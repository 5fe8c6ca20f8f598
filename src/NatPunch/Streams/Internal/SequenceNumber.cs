namespace NatPunch.Streams.Internal;

/// <summary>
/// Sequence numbers are 64-bit byte offsets inside the core and their low 32 bits on the wire.
/// A wire value is widened to the 64-bit value nearest a reference the receiver already knows
/// (as QUIC does for packet numbers, RFC 9000 §A.3). This is unambiguous because every window,
/// buffer and in-flight range is far below 2^31 bytes (<see cref="ReliableStreamOptions.MaxBufferSize"/>).
/// </summary>
internal static class SequenceNumber
{
    private const long Span32 = 1L << 32;
    private const long Half32 = 1L << 31;

    public static uint ToWire(long value) => unchecked((uint)value);

    /// <summary>The 64-bit value whose low 32 bits are <paramref name="wire"/> and which lies within ±2^31 of <paramref name="reference"/>.</summary>
    public static long Widen(uint wire, long reference)
    {
        long candidate = (reference & ~(Span32 - 1)) | wire;
        if (candidate <= reference - Half32)
        {
            candidate += Span32;
        }
        else if (candidate > reference + Half32)
        {
            candidate -= Span32;
        }
        return candidate;
    }
}
