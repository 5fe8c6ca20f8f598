using System.Net;

namespace NatPunch.Server.Turn;

/// <summary>
/// Which peers a relay may talk to (RFC 8656 §21.2.3, coturn's <c>--denied-peer-ip</c>). By default
/// loopback, private (RFC 1918, RFC 4193), shared (RFC 6598), link-local, unspecified, broadcast and
/// multicast addresses are refused: a relay must not become a way into the server's own network.
/// So are the IETF protocol assignments (192.0.0.0/24) and the benchmarking range (198.18.0.0/15,
/// RFC 2544), and an IPv6 address that carries an IPv4 one, NAT64's well-known prefix
/// (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056), is judged by the IPv4 address it carries:
/// through a NAT64 gateway or a 6to4 relay it reaches that address.
/// </summary>
public sealed class PeerAddressPolicy
{
    private static readonly IPNetwork[] Loopback = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];

    private static readonly IPNetwork[] Restricted =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("198.18.0.0/15"),
        IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
        IPNetwork.Parse("::/128"), IPNetwork.Parse("fc00::/7"), IPNetwork.Parse("fe80::/10"), IPNetwork.Parse("ff00::/8"),
        IPNetwork.Parse("::ffff:0:0/96"), IPNetwork.Parse("64:ff9b:1::/48"),
    ];

    private readonly TurnOptions _options;

    public PeerAddressPolicy(TurnOptions options) => _options = options;

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    public bool IsAllowed(IPAddress peer)
    {
        if (peer.IsIPv4MappedToIPv6)
        {
            peer = peer.MapToIPv4();
        }
        if (EmbeddedIPv4(peer) is { } embedded && !IsAllowed(embedded))
        {
            return false;
        }
        if (Contains(_options.DeniedPeers, peer))
        {
            return false;
        }
        if (Contains(_options.AllowedPeers, peer))
        {
            return true;
        }
        if (Contains(Loopback, peer))
        {
            return _options.AllowLoopbackPeers;
        }
        return !Contains(Restricted, peer);
    }

    /// <summary>The IPv4 address a NAT64 or 6to4 address carries, or null.</summary>
    private static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return null;
        }
        byte[] bytes = address.GetAddressBytes();
        return Nat64.Contains(address) ? new IPAddress(bytes.AsSpan(12, 4))
            : SixToFour.Contains(address) ? new IPAddress(bytes.AsSpan(2, 4))
            : null;
    }

    private static bool Contains(IReadOnlyList<IPNetwork> networks, IPAddress address)
    {
        foreach (IPNetwork network in networks)
        {
            if (network.BaseAddress.AddressFamily == address.AddressFamily && network.Contains(address))
            {
                return true;
            }
        }
        return false;
    }
}
