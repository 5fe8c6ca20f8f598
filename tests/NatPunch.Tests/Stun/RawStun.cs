using System.Buffers.Binary;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>Steps that write attributes, for <see cref="RawStun.Build"/>.</summary>
internal delegate void BuildSteps(ref StunMessageBuilder builder);

/// <summary>
/// Hand-made STUN bytes for tests, without the codec's help where the point is to make
/// something the builder would not (a wrong length, a misplaced FINGERPRINT).
/// </summary>
internal static class RawStun
{
    public static readonly TransactionId Id = new(0xb7e7a701bc34d686, 0xfa87dfae);

    /// <summary>An attribute block: type, length, value and <paramref name="padding"/> bytes up to a multiple of 4.</summary>
    public static byte[] Attribute(ushort type, ReadOnlySpan<byte> value, byte padding = 0)
    {
        var block = new byte[4 + ((value.Length + 3) & ~3)];
        BinaryPrimitives.WriteUInt16BigEndian(block, type);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(2), (ushort)value.Length);
        value.CopyTo(block.AsSpan(4));
        block.AsSpan(4 + value.Length).Fill(padding);
        return block;
    }

    /// <summary>A header (magic cookie, <see cref="Id"/>) whose length field counts the attributes, then the attributes.</summary>
    public static byte[] Message(ushort type, params byte[][] attributes) => Message(type, null, attributes);

    /// <summary>As <see cref="Message(ushort, byte[][])"/>, with the length field set to <paramref name="lengthField"/> if given.</summary>
    public static byte[] Message(ushort type, int? lengthField, params byte[][] attributes)
    {
        byte[] body = attributes.SelectMany(a => a).ToArray();
        var message = new byte[20 + body.Length];
        BinaryPrimitives.WriteUInt16BigEndian(message, type);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)(lengthField ?? body.Length));
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), StunConstants.MagicCookie);
        Id.WriteTo(message.AsSpan(8));
        body.CopyTo(message, 20);
        return message;
    }

    /// <summary>Runs <paramref name="steps"/> on a builder over a roomy buffer and returns the bytes written.</summary>
    public static byte[] Build(StunMessageType type, BuildSteps steps)
    {
        var buffer = new byte[2048];
        var builder = new StunMessageBuilder(buffer, type, Id);
        steps(ref builder);
        return builder.Written.ToArray();
    }

    /// <summary>Parses bytes that must be a valid message, and says why if they are not.</summary>
    public static StunMessage Parse(byte[] bytes)
    {
        StunMessage.TryParse(bytes, out StunMessage message, out StunParseError error).ShouldBeTrue(error.ToString());
        return message;
    }

    /// <summary>The attribute types the parsed message yields, in order.</summary>
    public static List<ushort> Types(StunMessage message)
    {
        var types = new List<ushort>();
        foreach (StunAttribute attribute in message.Attributes)
        {
            types.Add(attribute.Type);
        }
        return types;
    }
}
