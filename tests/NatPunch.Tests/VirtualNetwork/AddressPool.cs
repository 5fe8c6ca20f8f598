using System.Buffers.Binary;
using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// Hands out IPv4 addresses of a prefix in order, so that tests need not invent addresses and
/// traces read the same on every run. On a LAN the first address is the router's (gateway).
/// </summary>
internal sealed class AddressPool
{
    private readonly uint _last;
    private uint _next;

    public AddressPool(string prefix, bool reserveGateway)
    {
        string[] parts = prefix.Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out IPAddress? network)
            || network.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(parts[1], out int length) || length is < 8 or > 30)
        {
            throw new ArgumentException($"'{prefix}' is not an IPv4 prefix like 192.168.1.0/24 (length 8–30).", nameof(prefix));
        }
        uint mask = uint.MaxValue << (32 - length);
        uint first = ToUInt32(network) & mask;
        _last = (first | ~mask) - 1; // the broadcast address is not handed out
        _next = first + 1;
        if (reserveGateway)
        {
            Gateway = FromUInt32(_next++);
        }
        Prefix = prefix;
    }

    public string Prefix { get; }

    /// <summary>The router's address on a LAN; null for the internet.</summary>
    public IPAddress? Gateway { get; }

    /// <summary>The next address not yet taken.</summary>
    public IPAddress Next(Func<IPAddress, bool> isTaken)
    {
        while (_next <= _last)
        {
            IPAddress candidate = FromUInt32(_next++);
            if (!isTaken(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"No free address left in {Prefix}.");
    }

    private static uint ToUInt32(IPAddress address) => BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());

    private static IPAddress FromUInt32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }
}
