using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Net;

namespace NatPunch.Stun.Internal;

/// <summary>Moves endpoints between the forms a dual-mode socket and STUN attributes use.</summary>
internal static class SocketAddressing
{
    /// <summary>An IPv4-mapped IPv6 endpoint becomes plain IPv4, as STUN attributes carry it.</summary>
    public static IPEndPoint Normalize(IPEndPoint endPoint) =>
        IPv4Mapping.Unmap(endPoint);

    /// <summary>The form of <paramref name="destination"/> a socket of <paramref name="family"/> can send to.</summary>
    /// <exception cref="ArgumentException">An IPv6 destination for an IPv4 socket.</exception>
    public static IPEndPoint ForSocket(IPEndPoint destination, AddressFamily family)
    {
        if (destination.AddressFamily == family)
        {
            return destination;
        }
        if (family == AddressFamily.InterNetworkV6)
        {
            return new IPEndPoint(destination.Address.MapToIPv6(), destination.Port);
        }
        if (destination.Address.IsIPv4MappedToIPv6)
        {
            return new IPEndPoint(destination.Address.MapToIPv4(), destination.Port);
        }
        throw new ArgumentException($"Cannot send to {destination} from an IPv4 socket.", nameof(destination));
    }
}
