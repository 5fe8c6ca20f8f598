using System.Buffers.Binary;

namespace NatPunch.Tests.Stun;

/// <summary>
/// One type-length-value block found by walking the bytes after a STUN header, independent of
/// the codec under test: the fuzz tests compare the parser's view with this walk.
/// </summary>
internal readonly record struct RawAttribute(int Offset, ushort Type, int Length)
{
    public int ValueOffset => Offset + 4;

    /// <summary>First byte after the value and its padding to a multiple of 4.</summary>
    public int End => Offset + 4 + ((Length + 3) & ~3);

    /// <summary>
    /// Walks the blocks from byte 20 while each one fits in <paramref name="message"/>;
    /// <paramref name="tilesBody"/> tells whether they cover the bytes after the header exactly.
    /// </summary>
    public static List<RawAttribute> Walk(ReadOnlySpan<byte> message, out bool tilesBody)
    {
        var attributes = new List<RawAttribute>();
        int offset = 20;
        while (offset + 4 <= message.Length)
        {
            var attribute = new RawAttribute(
                offset,
                BinaryPrimitives.ReadUInt16BigEndian(message[offset..]),
                BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]));
            if (attribute.End > message.Length)
            {
                break;
            }
            attributes.Add(attribute);
            offset = attribute.End;
        }
        tilesBody = message.Length >= 20 && offset == message.Length;
        return attributes;
    }
}
