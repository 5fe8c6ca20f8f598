using System.Buffers.Binary;
using System.Net;
using NatPunch.Protocol.Net;

namespace NatPunch.Server.Internal;

/// <summary>
/// Whom a per-source limit counts together: one IPv4 address, or one IPv6 /64 (one subscriber's
/// prefix: whoever has IPv6 has 2^64 addresses to spread over, not one).
/// </summary>
internal static class SourceKey
{
    public static UInt128 Of(IPAddress address)
    {
        address = IPv4Mapping.Unmap(address);
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        if (written == 4)
        {
            return BinaryPrimitives.ReadUInt32BigEndian(bytes);
        }
        // The /64 prefix, kept apart from every IPv4 key by a bit above both.
        return ((UInt128)1 << 64) | BinaryPrimitives.ReadUInt64BigEndian(bytes);
    }
}
