using System.Net;
using System.Net.Sockets;

namespace NatPunch.PortMapping;

/// <summary>Whether an address a gateway calls its external one is reachable from the internet at all.</summary>
internal static class PublicAddress
{
    private static readonly IPNetwork[] NotPublic =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"),
        IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"),
        IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("224.0.0.0/3"),
    ];

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return !address.IsIPv6LinkLocal && !address.IsIPv6UniqueLocal && !address.Equals(IPAddress.IPv6Any) && !IPAddress.IsLoopback(address);
        }
        return !NotPublic.Any(n => n.Contains(address));
    }
}
