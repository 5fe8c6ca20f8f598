using System.Buffers.Binary;
using NatPunch.Protocol.Stun;

namespace NatPunch.Server.Stun;

/// <summary>
/// Answers STUN requests (RFC 8489 §6.3, RFC 5780 §6.1, RFC 3489 §8.2). A pure function of the
/// request, where it came from and which server address received it: no sockets, no clock.
/// Methods other than Binding are answered 400 here; the TURN service takes them before this.
/// </summary>
/// <remarks>
/// No reflection amplification: a response carries only what the request calls for, so it is at
/// most about 80 bytes larger than the request (XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS,
/// FINGERPRINT, for IPv6). PADDING is echoed at the request's own PADDING length, never more.
/// </remarks>
public sealed class StunBindingResponder
{
    private readonly ServerAddressSet _addresses;

    public StunBindingResponder(ServerAddressSet addresses) => _addresses = addresses;

    /// <summary>Largest response this responder writes for a request of <paramref name="requestLength"/> bytes.</summary>
    public static int MaxResponseLength(int requestLength) => requestLength + 128;

    /// <param name="request">The datagram or the framed TCP message.</param>
    /// <param name="clientAddress">The client's IP as 4 or 16 bytes (IPv4-mapped IPv6 already reduced to 4).</param>
    /// <param name="clientPort">The client's port.</param>
    /// <param name="receivedOnIndex">Which of <see cref="ServerAddressSet"/>'s addresses received it.</param>
    /// <param name="overTcp">CHANGE-REQUEST and RESPONSE-PORT only make sense over UDP (RFC 5780 §6.1).</param>
    /// <param name="response">Room for at least <see cref="MaxResponseLength"/> bytes.</param>
    public StunResponse Respond(ReadOnlySpan<byte> request, ReadOnlySpan<byte> clientAddress, int clientPort,
        int receivedOnIndex, bool overTcp, Span<byte> response)
    {
        if (!StunMessage.TryParse(request, out StunMessage message, out _))
        {
            return StunResponse.Drop(StunDropReason.Malformed);
        }
        if (message.HasFingerprint && !message.VerifyFingerprint())
        {
            return StunResponse.Drop(StunDropReason.BadFingerprint);
        }
        StunMessageType type = message.Type;
        if (type.Class != StunClass.Request)
        {
            return StunResponse.Drop(StunDropReason.NotARequest);
        }
        if (!message.HasMagicCookie)
        {
            return RespondClassic(message, clientAddress, clientPort, receivedOnIndex, overTcp, response);
        }

        // RFC 8489 §6.3.1.1: unknown comprehension-required attributes get 420 listing them.
        Span<ushort> unknown = stackalloc ushort[16];
        int unknownCount = message.GetUnknownComprehensionRequired(unknown);
        if (unknownCount > 0)
        {
            return Error(message, StunErrorCode.UnknownAttribute, Distinct(unknown[..Math.Min(unknownCount, unknown.Length)]), receivedOnIndex, response);
        }
        if (type.Method != StunMethod.Binding)
        {
            return Error(message, StunErrorCode.BadRequest, default, receivedOnIndex, response, "Unsupported method");
        }

        if (!TryGetChangeRequest(message, out bool changeIP, out bool changePort))
        {
            return Error(message, StunErrorCode.BadRequest, default, receivedOnIndex, response, "Malformed CHANGE-REQUEST");
        }
        bool wantsChange = changeIP || changePort;
        // RFC 5780 §6.1: without an alternate address, CHANGE-REQUEST is an attribute we can't honour.
        if (wantsChange && !_addresses.SupportsBehaviorDiscovery)
        {
            return Error(message, StunErrorCode.UnknownAttribute, [StunAttributeType.ChangeRequest], receivedOnIndex, response);
        }
        int destinationPort = 0;
        if (message.TryGetAttribute(StunAttributeType.ResponsePort, out ReadOnlySpan<byte> responsePort))
        {
            if (responsePort.Length != 4)
            {
                return Error(message, StunErrorCode.BadRequest, default, receivedOnIndex, response, "Malformed RESPONSE-PORT");
            }
            if (overTcp)
            {
                return Error(message, StunErrorCode.BadRequest, default, receivedOnIndex, response, "RESPONSE-PORT is for UDP only");
            }
            destinationPort = BinaryPrimitives.ReadUInt16BigEndian(responsePort);
            if (destinationPort == 0)
            {
                return Error(message, StunErrorCode.BadRequest, default, receivedOnIndex, response, "RESPONSE-PORT 0");
            }
        }

        int sendFrom = wantsChange && !overTcp ? ServerAddressSet.Changed(receivedOnIndex, changeIP, changePort) : receivedOnIndex;
        var builder = new StunMessageBuilder(response, type.ToSuccess(), message.TransactionId);
        builder.AddXorAddress(StunAttributeType.XorMappedAddress, clientAddress, clientPort);
        if (_addresses.SupportsBehaviorDiscovery)
        {
            if (!_addresses.IsWildcard)
            {
                builder.AddAddress(StunAttributeType.ResponseOrigin, _addresses.AddressBytes(sendFrom), _addresses[sendFrom].Port);
            }
            int other = ServerAddressSet.Other(receivedOnIndex);
            builder.AddAddress(StunAttributeType.OtherAddress, _addresses.AddressBytes(other), _addresses[other].Port);
        }
        if (message.TryGetAttribute(StunAttributeType.Padding, out ReadOnlySpan<byte> padding))
        {
            // RFC 5780 §7.6: pad the response as the request was padded, for fragmentation tests.
            builder.AddAttribute(StunAttributeType.Padding, padding.Length).Clear();
        }
        if (message.HasFingerprint)
        {
            builder.AddFingerprint();
        }
        return new StunResponse(builder.Length, sendFrom, destinationPort, StunDropReason.None);
    }

    /// <summary>
    /// RFC 3489 §8.2: an old client, no magic cookie. Echo the 128-bit id and answer with
    /// MAPPED-ADDRESS, SOURCE-ADDRESS and, when there is an alternate address, CHANGED-ADDRESS.
    /// RESPONSE-ADDRESS (reflect to a third party) is not honoured: it would make us an amplifier.
    /// </summary>
    private StunResponse RespondClassic(StunMessage message, ReadOnlySpan<byte> clientAddress, int clientPort,
        int receivedOnIndex, bool overTcp, Span<byte> response)
    {
        if (message.Type.Method != StunMethod.Binding)
        {
            return StunResponse.Drop(StunDropReason.NotARequest);
        }
        TryGetChangeRequest(message, out bool changeIP, out bool changePort);
        bool canChange = _addresses.SupportsBehaviorDiscovery && !overTcp;
        int sendFrom = canChange ? ServerAddressSet.Changed(receivedOnIndex, changeIP, changePort) : receivedOnIndex;
        if ((changeIP || changePort) && !canChange)
        {
            // An RFC 3489 client reads silence as "filtered", which is the honest answer we can give.
            return StunResponse.Drop(StunDropReason.ChangeNotPossible);
        }
        var builder = new StunMessageBuilder(response, StunMessageType.BindingSuccess.Value, message.ClassicCookie, message.TransactionId);
        builder.AddAddress(StunAttributeType.MappedAddress, clientAddress, clientPort);
        if (!_addresses.IsWildcard)
        {
            builder.AddAddress(StunAttributeType.SourceAddress, _addresses.AddressBytes(sendFrom), _addresses[sendFrom].Port);
        }
        if (_addresses.SupportsBehaviorDiscovery)
        {
            int other = ServerAddressSet.Other(receivedOnIndex);
            builder.AddAddress(StunAttributeType.ChangedAddress, _addresses.AddressBytes(other), _addresses[other].Port);
        }
        return new StunResponse(builder.Length, sendFrom, 0, StunDropReason.None);
    }

    /// <summary>An attribute that appears twice is listed once in UNKNOWN-ATTRIBUTES.</summary>
    private static Span<ushort> Distinct(Span<ushort> types)
    {
        int count = 0;
        foreach (ushort type in types)
        {
            if (!types[..count].Contains(type))
            {
                types[count++] = type;
            }
        }
        return types[..count];
    }

    private static bool TryGetChangeRequest(StunMessage message, out bool changeIP, out bool changePort)
    {
        changeIP = changePort = false;
        if (!message.TryGetAttribute(StunAttributeType.ChangeRequest, out ReadOnlySpan<byte> value))
        {
            return true;
        }
        if (value.Length != 4)
        {
            return false;
        }
        var flags = (ChangeRequestFlags)BinaryPrimitives.ReadUInt32BigEndian(value);
        changeIP = flags.HasFlag(ChangeRequestFlags.ChangeIP);
        changePort = flags.HasFlag(ChangeRequestFlags.ChangePort);
        return true;
    }

    private static StunResponse Error(StunMessage request, int code, ReadOnlySpan<ushort> unknown, int receivedOnIndex,
        Span<byte> response, string? reason = null)
    {
        var builder = new StunMessageBuilder(response, request.Type.ToError(), request.TransactionId);
        builder.AddErrorCode(code, reason);
        if (!unknown.IsEmpty)
        {
            builder.AddUnknownAttributes(unknown);
        }
        if (request.HasFingerprint)
        {
            builder.AddFingerprint();
        }
        return new StunResponse(builder.Length, receivedOnIndex, 0, StunDropReason.None);
    }
}
