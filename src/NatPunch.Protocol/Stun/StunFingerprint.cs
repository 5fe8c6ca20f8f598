using System.Buffers.Binary;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// FINGERPRINT (RFC 8489 §14.7): CRC-32 (ISO/IEC 13239, as in Ethernet) of the message up to the
/// attribute, with the header length already covering it, XORed with 0x5354554E.
/// </summary>
public static class StunFingerprint
{
    /// <param name="messageBeforeFingerprint">Header and attributes before FINGERPRINT.</param>
    /// <param name="totalLength">Length of the whole message including FINGERPRINT.</param>
    public static uint Compute(ReadOnlySpan<byte> messageBeforeFingerprint, int totalLength)
    {
        // The length field must read as if FINGERPRINT were already there (RFC 8489 §14.7).
        Span<byte> header = stackalloc byte[4];
        messageBeforeFingerprint[..4].CopyTo(header);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(totalLength - StunConstants.HeaderLength));
        uint crc = Crc32.Append(Crc32.Initial, header);
        crc = Crc32.Append(crc, messageBeforeFingerprint[4..]);
        return Crc32.Finish(crc) ^ StunConstants.FingerprintXor;
    }
}
