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
        ushort length = (ushort)(totalLength - StunConstants.HeaderLength);
        if (messageBeforeFingerprint.Length >= 8)
        {
            // Patch the length into the first 8 bytes as one little-endian word: bytes 2 and 3 are
            // bits 16–31, and the field is big-endian, so its high byte goes first.
            ulong head = BinaryPrimitives.ReadUInt64LittleEndian(messageBeforeFingerprint);
            head = (head & ~0xFFFF_0000UL) | ((ulong)(length >> 8) << 16) | ((ulong)(length & 0xFF) << 24);
            uint crc = Crc32.Append(Crc32.Initial, head);
            crc = Crc32.Append(crc, messageBeforeFingerprint[8..]);
            return Crc32.Finish(crc) ^ StunConstants.FingerprintXor;
        }
        Span<byte> header = stackalloc byte[4];
        messageBeforeFingerprint[..4].CopyTo(header);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], length);
        uint shortCrc = Crc32.Append(Crc32.Initial, header);
        shortCrc = Crc32.Append(shortCrc, messageBeforeFingerprint[4..]);
        return Crc32.Finish(shortCrc) ^ StunConstants.FingerprintXor;
    }
}
