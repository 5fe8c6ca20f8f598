using System.Buffers.Binary;
using System.Net;

namespace NatPunch.Protocol.PortMapping;

/// <summary>
/// NAT-PMP (RFC 6886): requests a client sends to its gateway's UDP port 5351, and the gateway's
/// answers. Version 0; an answer's opcode is the request's plus 128.
/// </summary>
public static class NatPmpMessage
{
    public const int ServerPort = 5351;
    public const byte Version = 0;
    public const byte OpExternalAddress = 0;
    public const byte OpMapUdp = 1;
    public const byte OpMapTcp = 2;
    private const byte ResponseBit = 128;

    /// <summary>"What is your external address?" (§3.2): 2 bytes.</summary>
    public static byte[] ExternalAddressRequest() => [Version, OpExternalAddress];

    /// <summary>
    /// Map <paramref name="internalPort"/> (§3.3): 12 bytes. Lifetime 0 with external port 0
    /// deletes the mapping (§3.4). The external port is only a suggestion.
    /// </summary>
    public static byte[] MapRequest(bool udp, ushort internalPort, ushort suggestedExternalPort, uint lifetimeSeconds)
    {
        var request = new byte[12];
        request[0] = Version;
        request[1] = udp ? OpMapUdp : OpMapTcp;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), internalPort);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), suggestedExternalPort);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(8), lifetimeSeconds);
        return request;
    }

    /// <summary>
    /// Parses an answer to <paramref name="requestOpcode"/>: false if it is not one (too short,
    /// another version or opcode). An error answer parses, with its <see cref="NatPmpResponse.Result"/>;
    /// it may be as short as 8 bytes (§3.5: a gateway that does not know the opcode echoes only the header).
    /// </summary>
    public static bool TryParseResponse(ReadOnlySpan<byte> datagram, byte requestOpcode, out NatPmpResponse response)
    {
        response = default;
        if (datagram.Length < 8 || datagram[0] != Version || datagram[1] != (byte)(requestOpcode | ResponseBit))
        {
            return false;
        }
        var result = (NatPmpResult)BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        uint epoch = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        if (result != NatPmpResult.Success)
        {
            response = new NatPmpResponse(result, epoch, null, 0, 0, 0);
            return true;
        }
        if (requestOpcode == OpExternalAddress)
        {
            if (datagram.Length < 12)
            {
                return false;
            }
            response = new NatPmpResponse(result, epoch, new IPAddress(datagram.Slice(8, 4)), 0, 0, 0);
            return true;
        }
        if (datagram.Length < 16)
        {
            return false;
        }
        response = new NatPmpResponse(result, epoch, null,
            BinaryPrimitives.ReadUInt16BigEndian(datagram[8..]),
            BinaryPrimitives.ReadUInt16BigEndian(datagram[10..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[12..]));
        return true;
    }
}

/// <summary>Result codes of NAT-PMP answers (RFC 6886 §3.5).</summary>
public enum NatPmpResult : ushort
{
    Success = 0,
    UnsupportedVersion = 1,
    /// <summary>The gateway supports mapping but the user switched it off, or refused this one.</summary>
    NotAuthorized = 2,
    /// <summary>The gateway has no external address yet (no DHCP lease, for one).</summary>
    NetworkFailure = 3,
    OutOfResources = 4,
    UnsupportedOpcode = 5,
}

/// <summary>
/// A NAT-PMP answer: its result, the gateway's seconds since its mappings were last lost (a smaller
/// epoch than expected means it rebooted: map again), and the external address, or the mapping.
/// </summary>
public readonly record struct NatPmpResponse(
    NatPmpResult Result, uint Epoch, IPAddress? ExternalAddress, ushort InternalPort, ushort ExternalPort, uint LifetimeSeconds);
