using System.Buffers.Binary;
using System.Net;
using NatPunch.Protocol.Net;

namespace NatPunch.Server.Internal;

/// <summary>
/// How many TCP connections each source holds, against a limit: one IPv4 address, or one IPv6 /64
/// (one subscriber's prefix: an attacker with IPv6 has 2^64 addresses, not one). Without it one
/// address filled the server's global cap and a legitimate register was reset.
/// </summary>
internal sealed class ConnectionsPerAddress(int limit)
{
    private readonly Dictionary<UInt128, int> _counts = [];

    /// <summary>Counts a connection from <paramref name="address"/>, unless its source is at the limit; release the key when it closes.</summary>
    public bool TryAdd(IPAddress address, out UInt128 key)
    {
        key = KeyOf(address);
        lock (_counts)
        {
            _counts.TryGetValue(key, out int count);
            if (count >= limit)
            {
                return false;
            }
            _counts[key] = count + 1;
            return true;
        }
    }

    public void Remove(UInt128 key)
    {
        lock (_counts)
        {
            if (_counts.TryGetValue(key, out int count) && count > 1)
            {
                _counts[key] = count - 1;
            }
            else
            {
                _counts.Remove(key);
            }
        }
    }

    /// <summary>Sources holding connections now (for tests and metrics).</summary>
    public int Sources
    {
        get
        {
            lock (_counts)
            {
                return _counts.Count;
            }
        }
    }

    private static UInt128 KeyOf(IPAddress address)
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
