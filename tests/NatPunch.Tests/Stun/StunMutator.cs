using System.Buffers.Binary;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>
/// Turns a valid message into a nearly valid one: bit flips, byte sets, truncation, extension,
/// edits of the header and attribute length fields, duplicated, swapped, removed and inserted
/// attribute blocks, and MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 / FINGERPRINT in odd places.
/// Deterministic for a given <see cref="Random"/>.
/// </summary>
internal static class StunMutator
{
    /// <summary>Values that tend to sit on boundaries.</summary>
    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x03, 0x04, 0x14, 0x20, 0x3F, 0x40, 0x4F, 0x7F, 0x80, 0xC0, 0xFF];

    private static readonly ushort[] InterestingTypes =
    [
        StunAttributeType.MessageIntegrity, StunAttributeType.MessageIntegritySha256, StunAttributeType.Fingerprint,
        StunAttributeType.XorMappedAddress, StunAttributeType.MappedAddress, StunAttributeType.ErrorCode,
        StunAttributeType.UnknownAttributes, StunAttributeType.Username, StunAttributeType.Lifetime,
        StunAttributeType.IceControlled, StunAttributeType.ChannelNumber, 0x0000, 0x7FFF, 0x8000, 0x8123, 0xFFFF,
    ];

    private static readonly int[] InterestingLengths = [0, 1, 2, 3, 4, 8, 16, 18, 19, 20, 21, 24, 28, 32, 36, 0x7FFF, 0xFFFC, 0xFFFF];

    public const int OperationCount = 17;

    /// <summary>Applies one to four random mutations; <paramref name="others"/> are used for splicing.</summary>
    public static byte[] Mutate(byte[] seed, Random random, IReadOnlyList<byte[]> others)
    {
        byte[] bytes = seed;
        int rounds = 1 + (random.Next(8) == 0 ? random.Next(1, 4) : 0);
        for (int i = 0; i < rounds; i++)
        {
            bytes = Apply(random.Next(OperationCount), bytes, random, others);
        }
        return bytes;
    }

    public static byte[] Apply(int operation, byte[] input, Random random, IReadOnlyList<byte[]> others)
    {
        byte[] bytes = (byte[])input.Clone();
        List<RawAttribute> attributes = RawAttribute.Walk(bytes, out _);
        switch (operation)
        {
            case 0: // flip one to four bits
                for (int n = 1 + random.Next(4); n > 0 && bytes.Length > 0; n--)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }
                return bytes;
            case 1: // set a byte to a boundary value or a random one
                if (bytes.Length > 0)
                {
                    bytes[random.Next(bytes.Length)] = random.Next(2) == 0
                        ? InterestingBytes[random.Next(InterestingBytes.Length)] : (byte)random.Next(256);
                }
                return bytes;
            case 2: // truncate, often at an attribute boundary or just inside the header
                return bytes[..TruncationPoint(bytes, attributes, random)];
            case 3: // extend with zeros or random bytes, sometimes fixing the header length
            {
                byte[] tail = random.Next(2) == 0 ? new byte[random.Next(1, 41)] : RandomStunMessages.RandomBytes(random, random.Next(1, 41));
                return MaybeFixLength([.. bytes, .. tail], random);
            }
            case 4: // edit the header length field
                if (bytes.Length >= 4)
                {
                    int length = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(2));
                    WriteLength(bytes, 2, EditedLength(length, random));
                }
                return bytes;
            case 5: // edit one attribute's length field
                if (attributes.Count > 0)
                {
                    RawAttribute victim = attributes[random.Next(attributes.Count)];
                    WriteLength(bytes, victim.Offset + 2, EditedLength(victim.Length, random));
                }
                return bytes;
            case 6: // duplicate an attribute block somewhere
                if (attributes.Count > 0)
                {
                    RawAttribute block = attributes[random.Next(attributes.Count)];
                    return MaybeFixLength(Insert(bytes, Boundary(bytes, attributes, random), bytes[block.Offset..block.End]), random, 8);
                }
                return bytes;
            case 7: // swap two attribute blocks
                if (attributes.Count >= 2)
                {
                    int a = random.Next(attributes.Count - 1), b = random.Next(a + 1, attributes.Count);
                    RawAttribute first = attributes[a], second = attributes[b];
                    return [.. bytes[..first.Offset], .. bytes[second.Offset..second.End], .. bytes[first.End..second.Offset],
                        .. bytes[first.Offset..first.End], .. bytes[second.End..]];
                }
                return bytes;
            case 8: // remove an attribute block
                if (attributes.Count > 0)
                {
                    RawAttribute block = attributes[random.Next(attributes.Count)];
                    return MaybeFixLength([.. bytes[..block.Offset], .. bytes[block.End..]], random, 8);
                }
                return bytes;
            case 9: // insert MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 or FINGERPRINT at an odd place
            {
                (ushort type, int length) = random.Next(6) switch
                {
                    0 or 1 => (StunAttributeType.MessageIntegrity, random.Next(8) == 0 ? random.Next(0, 40) : 20),
                    2 or 3 => (StunAttributeType.MessageIntegritySha256, random.Next(4) == 0 ? random.Next(0, 40) : 16 + 4 * random.Next(5)),
                    _ => (StunAttributeType.Fingerprint, random.Next(8) == 0 ? random.Next(0, 12) : 4),
                };
                return MaybeFixLength(Insert(bytes, Boundary(bytes, attributes, random), RawStun.Attribute(type, RandomStunMessages.RandomBytes(random, length))), random, 8);
            }
            case 10: // change an attribute's type
                if (attributes.Count > 0)
                {
                    RawAttribute victim = attributes[random.Next(attributes.Count)];
                    ushort type = random.Next(3) == 0 ? (ushort)random.Next(0x10000) : InterestingTypes[random.Next(InterestingTypes.Length)];
                    BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(victim.Offset), type);
                }
                return bytes;
            case 11: // make it an RFC 3489 message (no cookie), or give it the cookie back
                if (bytes.Length >= 8)
                {
                    uint cookie = random.Next(2) == 0 ? StunConstants.MagicCookie : (uint)random.NextInt64(1L << 32);
                    BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), cookie);
                }
                return bytes;
            case 12: // set the two top bits (RTP, DTLS, ChannelData live there) or turn it into ChannelData
                if (bytes.Length > 0)
                {
                    bytes[0] = random.Next(2) == 0 ? (byte)(bytes[0] | (random.Next(1, 4) << 6)) : (byte)random.Next(0x3E, 0x52);
                }
                return bytes;
            case 13: // splice: the head of this message and the tail of another
            {
                byte[] other = others[random.Next(others.Count)];
                int cut = random.Next(bytes.Length + 1);
                int otherCut = random.Next(other.Length + 1);
                return MaybeFixLength([.. bytes[..cut], .. other[otherCut..]], random);
            }
            case 14: // insert random bytes in the middle
            {
                int at = random.Next(bytes.Length + 1);
                return MaybeFixLength(Insert(bytes, at, RandomStunMessages.RandomBytes(random, random.Next(1, 9))), random);
            }
            case 15: // insert an attribute of a random or interesting type and length
            {
                ushort type = random.Next(2) == 0 ? InterestingTypes[random.Next(InterestingTypes.Length)] : (ushort)random.Next(0x10000);
                return MaybeFixLength(Insert(bytes, Boundary(bytes, attributes, random), RawStun.Attribute(type, RandomStunMessages.RandomBytes(random, random.Next(0, 24)))), random, 8);
            }
            default: // garble the padding bytes of an attribute
                foreach (RawAttribute attribute in attributes)
                {
                    for (int i = attribute.ValueOffset + attribute.Length; i < attribute.End; i++)
                    {
                        bytes[i] = (byte)random.Next(256);
                    }
                }
                return bytes;
        }
    }

    private static int TruncationPoint(byte[] bytes, List<RawAttribute> attributes, Random random)
    {
        if (bytes.Length == 0)
        {
            return 0;
        }
        int cut = random.Next(3) switch
        {
            0 when attributes.Count > 0 => attributes[random.Next(attributes.Count)].Offset + random.Next(0, 6),
            1 => random.Next(16, 24),
            _ => random.Next(bytes.Length),
        };
        return Math.Min(cut, bytes.Length);
    }

    /// <summary>The start of an attribute, the end of the message, or (rarely) any offset.</summary>
    private static int Boundary(byte[] bytes, List<RawAttribute> attributes, Random random)
    {
        if (bytes.Length < 20 || random.Next(10) == 0)
        {
            return random.Next(bytes.Length + 1);
        }
        int choice = random.Next(attributes.Count + 1);
        return choice == attributes.Count ? (attributes.Count > 0 ? attributes[^1].End : 20) : attributes[choice].Offset;
    }

    private static int EditedLength(int length, Random random) => random.Next(5) switch
    {
        0 => length + random.Next(-4, 5),
        1 => length ^ (1 << random.Next(16)),
        2 => InterestingLengths[random.Next(InterestingLengths.Length)],
        3 => length + 4 * random.Next(-3, 4),
        _ => random.Next(0x10000),
    };

    private static void WriteLength(byte[] bytes, int at, int length) =>
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(at), (ushort)length);

    /// <summary>
    /// Makes the header length agree with the new size, so the parser looks further, except one
    /// time in <paramref name="keepOneIn"/>.
    /// </summary>
    private static byte[] MaybeFixLength(byte[] bytes, Random random, int keepOneIn = 2)
    {
        if (bytes.Length >= 20 && random.Next(keepOneIn) != 0)
        {
            WriteLength(bytes, 2, bytes.Length - 20);
        }
        return bytes;
    }

    private static byte[] Insert(byte[] bytes, int at, ReadOnlySpan<byte> inserted) => [.. bytes[..at], .. inserted, .. bytes[at..]];
}
