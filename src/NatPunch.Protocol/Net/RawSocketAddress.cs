using System.Buffers.Binary;
using System.Net;

namespace NatPunch.Protocol.Net;

/// <summary>Reads a Linux <c>sockaddr_in</c>/<c>sockaddr_in6</c> as the kernel wrote it (recvmmsg's msg_name).</summary>
internal static class RawSocketAddress
{
    private const ushort AfInet = 2;
    private const ushort AfInet6 = 10;

    /// <summary>The address and port in <paramref name="raw"/>, or null for another family or a short buffer.</summary>
    public static IPEndPoint? ToEndPoint(ReadOnlySpan<byte> raw)
    {
        if (raw.Length < 2)
        {
            return null;
        }
        ushort family = BinaryPrimitives.ReadUInt16LittleEndian(raw);
        if (family == AfInet && raw.Length >= 8)
        {
            return new IPEndPoint(new IPAddress(raw.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(raw[2..]));
        }
        if (family == AfInet6 && raw.Length >= 28)
        {
            uint scope = BinaryPrimitives.ReadUInt32LittleEndian(raw[24..]);
            return new IPEndPoint(new IPAddress(raw.Slice(8, 16), scope), BinaryPrimitives.ReadUInt16BigEndian(raw[2..]));
        }
        return null;
    }
}
