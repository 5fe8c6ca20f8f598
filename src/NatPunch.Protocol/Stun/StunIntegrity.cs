using System.Buffers.Binary;
using System.Security.Cryptography;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) and MESSAGE-INTEGRITY-SHA256 (§14.6): an HMAC
/// over the message up to the attribute, with the header length set as if the message ended
/// right after it.
/// </summary>
public static class StunIntegrity
{
    /// <summary>Computes the HMAC for an integrity attribute at <paramref name="attributeOffset"/>.</summary>
    /// <param name="message">The message bytes; only the part before the attribute is read.</param>
    /// <param name="hashLength">Bytes of HMAC that go into the attribute (20 for SHA-1; 16–32 for SHA-256).</param>
    public static void Compute(ReadOnlySpan<byte> message, int attributeOffset, int hashLength, ReadOnlySpan<byte> key, bool sha256, Span<byte> destination)
    {
        int lengthThroughAttribute = attributeOffset + StunConstants.AttributeHeaderLength + hashLength - StunConstants.HeaderLength;
        byte[]? rented = null;
        Span<byte> copy = attributeOffset <= 1024
            ? stackalloc byte[attributeOffset]
            : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(attributeOffset)).AsSpan(0, attributeOffset);
        message[..attributeOffset].CopyTo(copy);
        BinaryPrimitives.WriteUInt16BigEndian(copy[2..], (ushort)lengthThroughAttribute);
        Span<byte> hash = stackalloc byte[32];
        int written = sha256 ? HMACSHA256.HashData(key, copy, hash) : HMACSHA1.HashData(key, copy, hash);
        hash[..Math.Min(hashLength, written)].CopyTo(destination);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    internal static bool Verify(ReadOnlySpan<byte> message, int attributeOffset, ReadOnlySpan<byte> key, bool sha256)
    {
        int length = BinaryPrimitives.ReadUInt16BigEndian(message[(attributeOffset + 2)..]);
        ReadOnlySpan<byte> received = message.Slice(attributeOffset + StunConstants.AttributeHeaderLength, length);
        Span<byte> expected = stackalloc byte[32];
        Compute(message, attributeOffset, length, key, sha256, expected);
        return CryptographicOperations.FixedTimeEquals(received, expected[..length]);
    }
}
