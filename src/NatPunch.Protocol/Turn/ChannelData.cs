using System.Buffers.Binary;

namespace NatPunch.Protocol.Turn;

/// <summary>
/// The ChannelData message (RFC 8656 §12.4): a 2-byte channel number in 0x4000–0x4FFF, a 2-byte
/// length, then application data. Over UDP it may stand unpadded; over TCP it is padded to a
/// multiple of 4 bytes (§12.5), and the padding is not counted in the length.
/// </summary>
public readonly ref struct ChannelData
{
    public const int HeaderLength = 4;
    public const ushort MinChannel = 0x4000;
    public const ushort MaxChannel = 0x4FFF;

    /// <summary>
    /// RFC 5766 §11 allowed 0x4000–0x7FFF; coturn and its clients still use the whole range, so a
    /// server that wants to interoperate accepts it (pass <c>legacyRange</c>).
    /// </summary>
    public const ushort MaxChannelRfc5766 = 0x7FFF;

    private ChannelData(ushort channel, ReadOnlySpan<byte> data)
    {
        Channel = channel;
        Data = data;
    }

    public ushort Channel { get; }

    public ReadOnlySpan<byte> Data { get; }

    public static bool IsValidChannel(int channel, bool legacyRange = false) =>
        channel >= MinChannel && channel <= (legacyRange ? MaxChannelRfc5766 : MaxChannel);

    /// <summary>First byte 64–79 (RFC 7983 §7); with <paramref name="legacyRange"/> 64–127 (RFC 5766).</summary>
    public static bool LooksLikeChannelData(ReadOnlySpan<byte> datagram, bool legacyRange = false) =>
        datagram.Length >= HeaderLength && datagram[0] >= 0x40 && datagram[0] <= (legacyRange ? 0x7F : 0x4F);

    /// <summary>Size on a TCP stream, padding included, for framing (RFC 8656 §12.5).</summary>
    public static bool TryGetFramedLength(ReadOnlySpan<byte> header, out int totalLength, bool legacyRange = false)
    {
        totalLength = 0;
        if (header.Length < HeaderLength || !LooksLikeChannelData(header, legacyRange))
        {
            return false;
        }
        totalLength = HeaderLength + ((BinaryPrimitives.ReadUInt16BigEndian(header[2..]) + 3) & ~3);
        return true;
    }

    /// <summary>Parses one ChannelData message; trailing bytes (padding) beyond the length are allowed.</summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, out ChannelData message, bool legacyRange = false)
    {
        message = default;
        if (!LooksLikeChannelData(buffer, legacyRange))
        {
            return false;
        }
        ushort channel = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        int length = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        if (!IsValidChannel(channel, legacyRange) || HeaderLength + length > buffer.Length)
        {
            return false;
        }
        message = new ChannelData(channel, buffer.Slice(HeaderLength, length));
        return true;
    }

    /// <summary>Writes a ChannelData message; with <paramref name="pad"/> it is padded for TCP. Returns bytes written.</summary>
    public static int Write(Span<byte> destination, ushort channel, ReadOnlySpan<byte> data, bool pad)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, channel);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)data.Length);
        data.CopyTo(destination[HeaderLength..]);
        int length = HeaderLength + data.Length;
        if (pad)
        {
            int padded = (length + 3) & ~3;
            destination[length..padded].Clear();
            length = padded;
        }
        return length;
    }
}
