using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace NatPunch.Net;

/// <summary>The addresses of this machine's interfaces that are worth offering as host candidates.</summary>
public static class LocalAddresses
{
    /// <summary>
    /// Up, non-loopback interface addresses, IPv4 and IPv6 (RFC 8445 §5.1.1.1), without IPv6
    /// link-local and deprecated addresses. With <paramref name="includeLoopback"/> loopback
    /// addresses are included too (for tests between two processes on one machine).
    /// </summary>
    public static IReadOnlyList<IPAddress> Get(bool includeLoopback = false, bool includeIPv6 = true)
    {
        var addresses = new List<IPAddress>();
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus is not (OperationalStatus.Up or OperationalStatus.Unknown))
            {
                continue;
            }
            bool loopback = nic.NetworkInterfaceType == NetworkInterfaceType.Loopback;
            if (loopback && !includeLoopback)
            {
                continue;
            }
            foreach (UnicastIPAddressInformation unicast in nic.GetIPProperties().UnicastAddresses)
            {
                IPAddress address = unicast.Address;
                bool usable = address.AddressFamily switch
                {
                    AddressFamily.InterNetwork => true,
                    AddressFamily.InterNetworkV6 => includeIPv6 && !address.IsIPv6LinkLocal && !address.IsIPv6Multicast
                        && (!IPAddress.IsLoopback(address) || includeLoopback),
                    _ => false,
                };
                if (usable && (includeLoopback || !IPAddress.IsLoopback(address)))
                {
                    addresses.Add(address);
                }
            }
        }
        return addresses;
    }
}
