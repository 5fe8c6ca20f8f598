using System.Net;
using NatPunch.Protocol.Net;

namespace NatPunch.Server.Stun;

/// <summary>
/// The addresses a STUN server answers on. Without an alternate address there is one
/// (the primary). With one (RFC 5780 §4.1) there are four: {primary, alternate IP} × {port, port+1};
/// index bit 0 = alternate port, bit 1 = alternate IP.
/// </summary>
public sealed class ServerAddressSet
{
    public const int Primary = 0;
    private const int AlternatePortBit = 1;
    private const int AlternateIPBit = 2;

    private readonly IPEndPoint[] _endPoints;
    private readonly byte[][] _addressBytes;

    public ServerAddressSet(IPEndPoint primary, IPAddress? alternateAddress)
    {
        if (alternateAddress is null)
        {
            _endPoints = [primary];
        }
        else
        {
            if (alternateAddress.AddressFamily != primary.Address.AddressFamily)
            {
                throw new ArgumentException($"The alternate address {alternateAddress} is not of the same family as {primary.Address}.");
            }
            if (primary.Port == 65535)
            {
                throw new ArgumentException("RFC 5780 mode uses port+1 as the alternate port; the primary port can't be 65535.");
            }
            int alternatePort = primary.Port + 1;
            _endPoints =
            [
                primary,
                new IPEndPoint(primary.Address, alternatePort),
                new IPEndPoint(alternateAddress, primary.Port),
                new IPEndPoint(alternateAddress, alternatePort),
            ];
        }
        _addressBytes = _endPoints.Select(e => IPv4Mapping.Unmap(e.Address).GetAddressBytes()).ToArray();
        IsWildcard = primary.Address.Equals(IPAddress.Any) || primary.Address.Equals(IPAddress.IPv6Any);
    }

    /// <summary>True when RFC 5780 behaviour discovery is served (an alternate address was given).</summary>
    public bool SupportsBehaviorDiscovery => _endPoints.Length == 4;

    /// <summary>Bound to 0.0.0.0 or [::]: the exact local address of a response is not known.</summary>
    public bool IsWildcard { get; }

    public int Count => _endPoints.Length;

    public IPEndPoint this[int index] => _endPoints[index];

    public ReadOnlySpan<byte> AddressBytes(int index) => _addressBytes[index];

    /// <summary>The address differing in both IP and port, for OTHER-ADDRESS (RFC 5780 §7.4).</summary>
    public static int Other(int index) => index ^ (AlternateIPBit | AlternatePortBit);

    /// <summary>The address a CHANGE-REQUEST asks the response to come from (RFC 5780 §7.2).</summary>
    public static int Changed(int index, bool changeIP, bool changePort) =>
        index ^ (changeIP ? AlternateIPBit : 0) ^ (changePort ? AlternatePortBit : 0);
}
