using System.Net;

namespace NatPunch.Protocol.Net;

/// <summary>
/// A dual-mode socket reports IPv4 peers as IPv4-mapped IPv6 (<c>::ffff:a.b.c.d</c>); STUN attributes,
/// logs, comparisons and keys use the plain IPv4 form. One place for that conversion.
/// </summary>
public static class IPv4Mapping
{
    /// <summary>The plain IPv4 form of an IPv4-mapped address; any other address as it is.</summary>
    public static IPAddress Unmap(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>The endpoint with its address unmapped (<see cref="Unmap(IPAddress)"/>); the same instance when nothing changes.</summary>
    public static IPEndPoint Unmap(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
}
