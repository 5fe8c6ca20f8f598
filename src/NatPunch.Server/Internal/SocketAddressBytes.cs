using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NatPunch.Server.Internal;

/// <summary>
/// Reads and edits the raw sockaddr inside a <see cref="SocketAddress"/> without allocating:
/// sockaddr_in is family(2) port(2, network order) address(4); sockaddr_in6 is family(2) port(2)
/// flowinfo(4) address(16) scope(4).
/// </summary>
internal static class SocketAddressBytes
{
    /// <summary>Copies the IP (4 bytes for IPv4 and IPv4-mapped IPv6, else 16) and returns its length.</summary>
    public static int GetAddress(SocketAddress socketAddress, Span<byte> destination, out int port) =>
        GetAddress(socketAddress.Buffer.Span, socketAddress.Family, destination, out port);

    /// <summary>The same from a raw sockaddr of <paramref name="family"/> (as recvmmsg fills in).</summary>
    public static int GetAddress(ReadOnlySpan<byte> raw, AddressFamily family, Span<byte> destination, out int port)
    {
        port = BinaryPrimitives.ReadUInt16BigEndian(raw[2..]);
        if (family == AddressFamily.InterNetwork)
        {
            raw.Slice(4, 4).CopyTo(destination);
            return 4;
        }
        ReadOnlySpan<byte> v6 = raw.Slice(8, 16);
        if (IsIPv4Mapped(v6))
        {
            v6[12..].CopyTo(destination);
            return 4;
        }
        v6.CopyTo(destination);
        return 16;
    }

    /// <summary>Size of the sockaddr of <paramref name="family"/>: sockaddr_in or sockaddr_in6.</summary>
    public static int SizeOf(AddressFamily family) => family == AddressFamily.InterNetwork ? 16 : 28;

    public static void SetPort(SocketAddress socketAddress, int port) => SetPort(socketAddress.Buffer.Span, port);

    public static void SetPort(Span<byte> raw, int port) => BinaryPrimitives.WriteUInt16BigEndian(raw[2..], (ushort)port);

    private static bool IsIPv4Mapped(ReadOnlySpan<byte> v6) =>
        v6[..10].IndexOfAnyExcept((byte)0) < 0 && v6[10] == 0xFF && v6[11] == 0xFF;
}
