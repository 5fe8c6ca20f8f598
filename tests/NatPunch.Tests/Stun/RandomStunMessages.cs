using System.Buffers.Binary;
using System.Net;
using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>How an attribute of a generated message was written, and so how it should read back.</summary>
internal enum GeneratedKind
{
    Bytes,
    Text,
    UInt32,
    UInt64,
    Address,
    XorAddress,
    ErrorCode,
    UnknownAttributes,
}

/// <summary>
/// An attribute written by the generator: its wire value (computed here, not by the codec) and,
/// for typed attributes, the value a typed accessor should return.
/// </summary>
internal sealed record GeneratedAttribute(ushort Type, GeneratedKind Kind, byte[] Value, object? Expected);

/// <summary>A message written with <see cref="StunMessageBuilder"/> and what went into it.</summary>
internal sealed record GeneratedMessage(
    byte[] Bytes,
    ushort RawType,
    uint CookieField,
    TransactionId TransactionId,
    IReadOnlyList<GeneratedAttribute> Attributes,
    byte[]? IntegrityKey,
    byte[]? IntegritySha256Key,
    bool HasFingerprint)
{
    public bool HasMagicCookie => CookieField == StunConstants.MagicCookie;

    /// <summary>The key to try on this message: the one its integrity attributes were made with, if any.</summary>
    public byte[] AnyKey => IntegrityKey ?? IntegritySha256Key ?? RandomStunMessages.Keys[0];
}

/// <summary>
/// Random but valid STUN messages built with <see cref="StunMessageBuilder"/>: random methods and
/// classes, RFC 3489 cookies, STUN/TURN/ICE/RFC 5780 attributes, IPv4, IPv6 and IPv4-mapped
/// addresses, multi-byte text, unknown attributes, MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT.
/// </summary>
internal static class RandomStunMessages
{
    /// <summary>Keys the generated messages are signed with: short-term, long-term MD5 and SHA-256, empty.</summary>
    public static readonly byte[][] Keys =
    [
        StunCredentials.ShortTermKey(Rfc5769Vectors.ShortTermPassword),
        StunCredentials.LongTermKey("user", "realm.example", "pass"),
        StunCredentials.LongTermKey("user", "realm.example", "pass", PasswordAlgorithm.Sha256),
        [],
    ];

    private static readonly ushort[] TextTypes =
        [StunAttributeType.Username, StunAttributeType.Realm, StunAttributeType.Nonce, StunAttributeType.Software, StunAttributeType.AlternateDomain];

    private static readonly ushort[] AddressTypes =
        [StunAttributeType.MappedAddress, StunAttributeType.AlternateServer, StunAttributeType.ResponseOrigin,
         StunAttributeType.OtherAddress, StunAttributeType.ChangedAddress, StunAttributeType.SourceAddress, StunAttributeType.ResponseAddress];

    private static readonly ushort[] XorAddressTypes =
        [StunAttributeType.XorMappedAddress, StunAttributeType.XorPeerAddress, StunAttributeType.XorRelayedAddress];

    private static readonly ushort[] UInt32Types =
        [StunAttributeType.Lifetime, StunAttributeType.Priority, StunAttributeType.ChannelNumber, StunAttributeType.RequestedTransport,
         StunAttributeType.ChangeRequest, StunAttributeType.ConnectionId, StunAttributeType.RequestedAddressFamily, StunAttributeType.ResponsePort];

    private static readonly ushort[] UInt64Types =
        [StunAttributeType.IceControlled, StunAttributeType.IceControlling, StunAttributeType.ReservationToken];

    private static readonly ushort[] BytesTypes =
        [StunAttributeType.Data, StunAttributeType.Padding, StunAttributeType.UserHash, StunAttributeType.EvenPort,
         StunAttributeType.PasswordAlgorithms, StunAttributeType.PasswordAlgorithm, StunAttributeType.Icmp,
         StunAttributeType.AdditionalAddressFamily, StunAttributeType.AddressErrorCode];

    private static readonly ushort[] EmptyTypes =
        [StunAttributeType.UseCandidate, StunAttributeType.DontFragment];

    private static readonly string[] TextPieces =
        ["a", "Z", "0", " ", ":", "é", "ß", "€", "マ", "\u0000", "😀", "\u0301", "user", "realm.example"];

    private static readonly StunMethod[] Methods = Enum.GetValues<StunMethod>();

    public static GeneratedMessage Generate(Random random)
    {
        ushort rawType = random.Next(8) == 0
            ? (ushort)random.Next(0x4000)
            : new StunMessageType(Methods[random.Next(Methods.Length)], (StunClass)random.Next(4)).Value;
        bool magic = random.Next(7) != 0;
        uint cookieField = StunConstants.MagicCookie;
        while (!magic && cookieField == StunConstants.MagicCookie)
        {
            // An RFC 3489 message: the cookie field is part of a 128-bit transaction id.
            cookieField = RandomUInt32(random);
        }
        var transactionId = new TransactionId(RandomUInt64(random), RandomUInt32(random));

        var header = new byte[20];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), cookieField);
        transactionId.WriteTo(header.AsSpan(8));

        var attributes = new List<GeneratedAttribute>();
        int count = random.Next(11);
        for (int i = 0; i < count; i++)
        {
            attributes.Add(RandomAttribute(random, header.AsSpan(4, 16)));
        }

        byte[]? integrityKey = random.Next(2) == 0 ? Keys[random.Next(Keys.Length)] : null;
        byte[]? sha256Key = random.Next(3) == 0 ? Keys[random.Next(Keys.Length)] : null;
        bool fingerprint = random.Next(2) == 0;

        var message = new GeneratedMessage([], rawType, cookieField, transactionId, attributes, integrityKey, sha256Key, fingerprint);
        var buffer = new byte[4096];
        return message with { Bytes = buffer[..Build(message, buffer)] };
    }

    /// <summary>Writes <paramref name="message"/> again with the builder into <paramref name="buffer"/>; returns its length.</summary>
    public static int Build(GeneratedMessage message, Span<byte> buffer)
    {
        var builder = new StunMessageBuilder(buffer, message.RawType, message.CookieField, message.TransactionId);
        foreach (GeneratedAttribute attribute in message.Attributes)
        {
            Write(ref builder, attribute);
        }
        if (message.IntegrityKey is not null)
        {
            builder.AddMessageIntegrity(message.IntegrityKey);
        }
        if (message.IntegritySha256Key is not null)
        {
            builder.AddMessageIntegritySha256(message.IntegritySha256Key);
        }
        if (message.HasFingerprint)
        {
            builder.AddFingerprint();
        }
        return builder.Length;
    }

    private static void Write(ref StunMessageBuilder builder, GeneratedAttribute attribute)
    {
        switch (attribute.Kind)
        {
            case GeneratedKind.Text:
                builder.AddString(attribute.Type, (string)attribute.Expected!);
                break;
            case GeneratedKind.UInt32:
                builder.AddUInt32(attribute.Type, (uint)attribute.Expected!);
                break;
            case GeneratedKind.UInt64:
                builder.AddUInt64(attribute.Type, (ulong)attribute.Expected!);
                break;
            case GeneratedKind.Address:
                builder.AddAddress(attribute.Type, (IPEndPoint)attribute.Expected!);
                break;
            case GeneratedKind.XorAddress:
                builder.AddXorAddress(attribute.Type, (IPEndPoint)attribute.Expected!);
                break;
            case GeneratedKind.ErrorCode:
                var (code, reason) = ((int, string))attribute.Expected!;
                builder.AddErrorCode(code, reason);
                break;
            case GeneratedKind.UnknownAttributes:
                builder.AddUnknownAttributes((ushort[])attribute.Expected!);
                break;
            default:
                if (attribute.Value.Length == 0 && attribute.Type is StunAttributeType.UseCandidate or StunAttributeType.DontFragment)
                {
                    builder.AddEmpty(attribute.Type);
                }
                else
                {
                    builder.AddBytes(attribute.Type, attribute.Value);
                }
                break;
        }
    }

    private static GeneratedAttribute RandomAttribute(Random random, ReadOnlySpan<byte> cookieAndTransactionId)
    {
        switch (random.Next(10))
        {
            case 0:
            {
                string text = RandomText(random, random.Next(0, 24));
                return new(Pick(random, TextTypes), GeneratedKind.Text, Encoding.UTF8.GetBytes(text), text);
            }
            case 1:
            {
                IPEndPoint endPoint = RandomEndPoint(random);
                return new(Pick(random, AddressTypes), GeneratedKind.Address, PlainAddressValue(endPoint), Normalized(endPoint));
            }
            case 2:
            {
                IPEndPoint endPoint = RandomEndPoint(random);
                return new(Pick(random, XorAddressTypes), GeneratedKind.XorAddress, XorAddressValue(endPoint, cookieAndTransactionId), Normalized(endPoint));
            }
            case 3:
            {
                uint number = RandomUInt32(random);
                var value = new byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(value, number);
                return new(Pick(random, UInt32Types), GeneratedKind.UInt32, value, number);
            }
            case 4:
            {
                ulong number = RandomUInt64(random);
                var value = new byte[8];
                BinaryPrimitives.WriteUInt64BigEndian(value, number);
                return new(Pick(random, UInt64Types), GeneratedKind.UInt64, value, number);
            }
            case 5:
            {
                int code = random.Next(300, 700);
                string reason = random.Next(4) == 0 ? StunErrorCode.DefaultReason(code) : RandomText(random, random.Next(0, 8));
                byte[] reasonBytes = Encoding.UTF8.GetBytes(reason);
                var value = new byte[4 + reasonBytes.Length];
                value[2] = (byte)(code / 100);
                value[3] = (byte)(code % 100);
                reasonBytes.CopyTo(value, 4);
                return new(StunAttributeType.ErrorCode, GeneratedKind.ErrorCode, value, (code, reason));
            }
            case 6:
            {
                var types = new ushort[random.Next(0, 7)];
                var value = new byte[types.Length * 2];
                for (int i = 0; i < types.Length; i++)
                {
                    types[i] = (ushort)random.Next(0x10000);
                    BinaryPrimitives.WriteUInt16BigEndian(value.AsSpan(i * 2), types[i]);
                }
                return new(StunAttributeType.UnknownAttributes, GeneratedKind.UnknownAttributes, value, types);
            }
            case 7:
            {
                // An attribute this agent does not know: comprehension-required or -optional.
                ushort type = random.Next(2) == 0 ? (ushort)random.Next(0x0040, 0x8000) : (ushort)random.Next(0x8040, 0x10000);
                return new(type, GeneratedKind.Bytes, RandomBytes(random, random.Next(0, 40)), null);
            }
            case 8:
                return new(Pick(random, EmptyTypes), GeneratedKind.Bytes, [], null);
            default:
            {
                ushort type = Pick(random, BytesTypes);
                int length = type switch
                {
                    StunAttributeType.UserHash => 32,
                    StunAttributeType.EvenPort => 1,
                    StunAttributeType.Data => random.Next(0, 300),
                    _ => random.Next(0, 64),
                };
                return new(type, GeneratedKind.Bytes, RandomBytes(random, length), null);
            }
        }
    }

    public static IPEndPoint RandomEndPoint(Random random)
    {
        int port = random.Next(4) == 0 ? (random.Next(2) == 0 ? 0 : 65535) : random.Next(65536);
        IPAddress address = random.Next(4) switch
        {
            0 => new IPAddress(RandomBytes(random, 4)),
            1 => new IPAddress(RandomBytes(random, 16)),
            2 => new IPAddress(RandomBytes(random, 4)).MapToIPv6(),
            _ => random.Next(2) == 0 ? IPAddress.Loopback : IPAddress.IPv6Loopback,
        };
        return new IPEndPoint(address, port);
    }

    /// <summary>What a reader gives back: IPv4-mapped IPv6 addresses are written, and so read, as IPv4.</summary>
    public static IPEndPoint Normalized(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    private static byte[] PlainAddressValue(IPEndPoint endPoint)
    {
        byte[] address = Normalized(endPoint).Address.GetAddressBytes();
        var value = new byte[4 + address.Length];
        value[1] = (byte)(address.Length == 4 ? 1 : 2);
        BinaryPrimitives.WriteUInt16BigEndian(value.AsSpan(2), (ushort)endPoint.Port);
        address.CopyTo(value, 4);
        return value;
    }

    private static byte[] XorAddressValue(IPEndPoint endPoint, ReadOnlySpan<byte> cookieAndTransactionId)
    {
        byte[] value = PlainAddressValue(endPoint);
        value[2] ^= 0x21;
        value[3] ^= 0x12;
        for (int i = 4; i < value.Length; i++)
        {
            value[i] ^= cookieAndTransactionId[i - 4];
        }
        return value;
    }

    public static string RandomText(Random random, int pieces)
    {
        var text = new StringBuilder();
        for (int i = 0; i < pieces; i++)
        {
            text.Append(TextPieces[random.Next(TextPieces.Length)]);
        }
        return text.ToString();
    }

    public static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static ushort Pick(Random random, ushort[] choices) => choices[random.Next(choices.Length)];

    private static uint RandomUInt32(Random random) => (uint)random.NextInt64(0, 1L << 32);

    private static ulong RandomUInt64(Random random) => (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);
}
