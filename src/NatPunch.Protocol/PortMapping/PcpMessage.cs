using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NatPunch.Protocol.PortMapping;

/// <summary>
/// PCP (RFC 6887), the successor of NAT-PMP on the same UDP port 5351: the ANNOUNCE request (is
/// PCP spoken?) and MAP (open an inbound port), and their answers. Addresses are 16 bytes, IPv4 as
/// IPv4-mapped IPv6.
/// </summary>
public static class PcpMessage
{
    public const int ServerPort = 5351;
    public const byte Version = 2;
    public const byte OpAnnounce = 0;
    public const byte OpMap = 1;
    public const int NonceLength = 12;
    public const byte ProtocolUdp = 17;
    public const byte ProtocolTcp = 6;
    private const int HeaderLength = 24;
    private const int MapLength = 36;
    private const byte ResponseBit = 0x80;

    /// <summary>ANNOUNCE (§14.1): a header with lifetime 0 and no opcode data, 24 bytes.</summary>
    public static byte[] AnnounceRequest(IPAddress client)
    {
        var request = new byte[HeaderLength];
        WriteHeader(request, OpAnnounce, 0, client);
        return request;
    }

    /// <summary>
    /// MAP (§11.1): 60 bytes. The client address must be the one the gateway sees the request come
    /// from (otherwise ADDRESS_MISMATCH); the nonce identifies the mapping in renewals and the
    /// deletion (lifetime 0). External port and address are suggestions (0 and the unspecified address: any).
    /// </summary>
    public static byte[] MapRequest(ReadOnlySpan<byte> nonce, byte protocol, IPAddress client, ushort internalPort,
        ushort suggestedExternalPort, IPAddress? suggestedExternalAddress, uint lifetimeSeconds)
    {
        if (nonce.Length != NonceLength)
        {
            throw new ArgumentException($"A PCP nonce is {NonceLength} bytes.", nameof(nonce));
        }
        var request = new byte[HeaderLength + MapLength];
        WriteHeader(request, OpMap, lifetimeSeconds, client);
        Span<byte> map = request.AsSpan(HeaderLength);
        nonce.CopyTo(map);
        map[12] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(map[16..], internalPort);
        BinaryPrimitives.WriteUInt16BigEndian(map[18..], suggestedExternalPort);
        WriteAddress(map[20..], suggestedExternalAddress
            ?? (client.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any));
        return request;
    }

    /// <summary>
    /// Parses an answer to <paramref name="requestOpcode"/>: false if it is not one. A NAT-PMP-only
    /// gateway answers a PCP request with a NAT-PMP "unsupported version" (§9): that parses with
    /// <see cref="PcpResponse.Version"/> 0 and <see cref="PcpResult.UnsupportedVersion"/>.
    /// </summary>
    public static bool TryParseResponse(ReadOnlySpan<byte> datagram, byte requestOpcode, out PcpResponse response)
    {
        response = default;
        if (datagram.Length >= 4 && datagram[0] == NatPmpMessage.Version
            && BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]) == (ushort)NatPmpResult.UnsupportedVersion)
        {
            response = new PcpResponse(0, PcpResult.UnsupportedVersion, 0, 0, null, 0, 0, null);
            return true;
        }
        if (datagram.Length < HeaderLength || datagram.Length > 1100 || datagram[0] != Version
            || datagram[1] != (byte)(requestOpcode | ResponseBit))
        {
            return false;
        }
        var result = (PcpResult)datagram[3];
        uint lifetime = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]);
        uint epoch = BinaryPrimitives.ReadUInt32BigEndian(datagram[8..]);
        if (requestOpcode != OpMap || datagram.Length < HeaderLength + MapLength)
        {
            // An error answer to MAP may carry the opcode data or not; an ANNOUNCE answer has none.
            response = new PcpResponse(Version, result, lifetime, epoch, null, 0, 0, null);
            return requestOpcode != OpMap || result != PcpResult.Success;
        }
        ReadOnlySpan<byte> map = datagram[HeaderLength..];
        response = new PcpResponse(Version, result, lifetime, epoch, map[..NonceLength].ToArray(),
            BinaryPrimitives.ReadUInt16BigEndian(map[16..]), BinaryPrimitives.ReadUInt16BigEndian(map[18..]),
            ReadAddress(map.Slice(20, 16)));
        return true;
    }

    private static void WriteHeader(Span<byte> buffer, byte opcode, uint lifetime, IPAddress client)
    {
        buffer[0] = Version;
        buffer[1] = opcode;
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], lifetime);
        WriteAddress(buffer[8..], client);
    }

    private static void WriteAddress(Span<byte> destination, IPAddress address)
    {
        IPAddress v6 = address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6() : address;
        v6.TryWriteBytes(destination[..16], out _);
    }

    private static IPAddress ReadAddress(ReadOnlySpan<byte> bytes)
    {
        var address = new IPAddress(bytes);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }
}

/// <summary>Result codes of PCP answers (RFC 6887 §7.4).</summary>
public enum PcpResult : byte
{
    Success = 0,
    UnsupportedVersion = 1,
    NotAuthorized = 2,
    MalformedRequest = 3,
    UnsupportedOpcode = 4,
    UnsupportedOption = 5,
    MalformedOption = 6,
    NetworkFailure = 7,
    NoResources = 8,
    UnsupportedProtocol = 9,
    UserExceededQuota = 10,
    CannotProvideExternal = 11,
    AddressMismatch = 12,
    ExcessiveRemotePeers = 13,
}

/// <summary>
/// A PCP answer: version (0 when a NAT-PMP-only gateway answered), result, the lifetime granted,
/// the gateway's epoch, and for MAP the nonce, internal port and the external port and address assigned.
/// </summary>
public readonly record struct PcpResponse(byte Version, PcpResult Result, uint LifetimeSeconds, uint Epoch,
    byte[]? Nonce, ushort InternalPort, ushort ExternalPort, IPAddress? ExternalAddress);
