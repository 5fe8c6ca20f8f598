using System.Net;
using System.Net.Sockets;
using NatPunch.Stun.Internal;

namespace NatPunch.Discovery.Internal;

/// <summary>Which local address the OS would send from to reach a destination.</summary>
internal static class LocalRoute
{
    /// <summary>
    /// The source address for <paramref name="destination"/>: <paramref name="bound"/> itself unless it
    /// is a wildcard, else what the routing table picks — found by connecting a UDP socket, which
    /// sends nothing. Falls back to <paramref name="bound"/> if there is no route.
    /// </summary>
    public static IPAddress SourceAddressFor(IPEndPoint destination, IPAddress bound)
    {
        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any))
        {
            return SocketAddressing.Normalize(new IPEndPoint(bound, 0)).Address;
        }
        try
        {
            using var socket = new Socket(destination.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(destination);
            return SocketAddressing.Normalize((IPEndPoint)socket.LocalEndPoint!).Address;
        }
        catch (SocketException)
        {
            return bound;
        }
    }
}
