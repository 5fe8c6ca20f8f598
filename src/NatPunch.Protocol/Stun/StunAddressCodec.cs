using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// MAPPED-ADDRESS layout (RFC 8489 §14.1) and its XOR form (§14.2): reserved byte, family,
/// port, then 4 or 16 address bytes. The XOR form XORs the port with the cookie's top 16 bits
/// and the address with the cookie (IPv4) or the cookie followed by the transaction id (IPv6).
/// </summary>
public static class StunAddressCodec
{
    public const int IPv4ValueLength = 8;
    public const int IPv6ValueLength = 20;

    /// <summary>Value length for an address of the given byte length (4 or 16).</summary>
    public static int ValueLength(int addressBytes) => 4 + addressBytes;

    public static bool TryRead(ReadOnlySpan<byte> value, out IPEndPoint endPoint)
    {
        endPoint = null!;
        if (!TryReadRaw(value, out int port, out ReadOnlySpan<byte> address))
        {
            return false;
        }
        endPoint = new IPEndPoint(new IPAddress(address), port);
        return true;
    }

    /// <param name="cookieAndTransactionId">Header bytes 4–19 of the message that holds the attribute.</param>
    public static bool TryReadXor(ReadOnlySpan<byte> value, ReadOnlySpan<byte> cookieAndTransactionId, out IPEndPoint endPoint)
    {
        endPoint = null!;
        if (!TryReadRaw(value, out int port, out ReadOnlySpan<byte> address))
        {
            return false;
        }
        Span<byte> plain = stackalloc byte[address.Length];
        for (int i = 0; i < address.Length; i++)
        {
            plain[i] = (byte)(address[i] ^ cookieAndTransactionId[i]);
        }
        port ^= (int)(StunConstants.MagicCookie >> 16);
        endPoint = new IPEndPoint(new IPAddress(plain), port);
        return true;
    }

    private static bool TryReadRaw(ReadOnlySpan<byte> value, out int port, out ReadOnlySpan<byte> address)
    {
        port = 0;
        address = default;
        if (value.Length < 4)
        {
            return false;
        }
        int expected = value[1] switch
        {
            (byte)StunAddressFamily.IPv4 => IPv4ValueLength,
            (byte)StunAddressFamily.IPv6 => IPv6ValueLength,
            _ => -1,
        };
        if (value.Length != expected)
        {
            return false;
        }
        port = BinaryPrimitives.ReadUInt16BigEndian(value[2..]);
        address = value[4..];
        return true;
    }

    /// <summary>Writes the plain form; <paramref name="address"/> is 4 or 16 bytes. Returns bytes written.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> address, int port)
    {
        destination[0] = 0;
        destination[1] = (byte)(address.Length == 4 ? StunAddressFamily.IPv4 : StunAddressFamily.IPv6);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)port);
        address.CopyTo(destination[4..]);
        return 4 + address.Length;
    }

    /// <summary>Writes the XOR form; <paramref name="cookieAndTransactionId"/> is header bytes 4–19.</summary>
    public static int WriteXor(Span<byte> destination, ReadOnlySpan<byte> address, int port, ReadOnlySpan<byte> cookieAndTransactionId)
    {
        destination[0] = 0;
        destination[1] = (byte)(address.Length == 4 ? StunAddressFamily.IPv4 : StunAddressFamily.IPv6);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)(port ^ (int)(StunConstants.MagicCookie >> 16)));
        for (int i = 0; i < address.Length; i++)
        {
            destination[4 + i] = (byte)(address[i] ^ cookieAndTransactionId[i]);
        }
        return 4 + address.Length;
    }

    /// <summary>The 4 or 16 bytes of an address; IPv4-mapped IPv6 addresses become plain IPv4.</summary>
    public static int GetAddressBytes(IPAddress address, Span<byte> destination)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        address.TryWriteBytes(destination, out int written);
        return written;
    }

    public static StunAddressFamily FamilyOf(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 && !address.IsIPv4MappedToIPv6
            ? StunAddressFamily.IPv6 : StunAddressFamily.IPv4;
}
