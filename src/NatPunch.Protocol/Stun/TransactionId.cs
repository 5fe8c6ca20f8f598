using System.Buffers.Binary;
using System.Security.Cryptography;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// The 96-bit transaction id (RFC 8489 §5). For an RFC 3489 message, which has no magic cookie,
/// the cookie position is part of a 128-bit id; <see cref="StunMessage.ClassicCookie"/> keeps those bits.
/// </summary>
public readonly record struct TransactionId(ulong High, uint Low)
{
    public const int Length = 12;

    /// <summary>A new id from the cryptographic random generator, as RFC 8489 §5 requires.</summary>
    public static TransactionId NewRandom()
    {
        Span<byte> bytes = stackalloc byte[Length];
        RandomNumberGenerator.Fill(bytes);
        return Read(bytes);
    }

    public static TransactionId Read(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(source), BinaryPrimitives.ReadUInt32BigEndian(source[8..]));

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], Low);
    }

    public override string ToString() => $"{High:x16}{Low:x8}";
}
