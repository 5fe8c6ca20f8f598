using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Client;

/// <summary>Builds the responses a STUN server would send, for feeding the client cores.</summary>
internal static class StunMessages
{
    public static byte[] Success(TransactionId id, IPEndPoint mapped, IPEndPoint? origin = null, IPEndPoint? other = null, string? software = null, bool fingerprint = true)
    {
        byte[] buffer = new byte[512];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess, id);
        builder.AddXorAddress(StunAttributeType.XorMappedAddress, mapped);
        if (origin is not null)
        {
            builder.AddAddress(StunAttributeType.ResponseOrigin, origin);
        }
        if (other is not null)
        {
            builder.AddAddress(StunAttributeType.OtherAddress, other);
        }
        if (software is not null)
        {
            builder.AddString(StunAttributeType.Software, software);
        }
        if (fingerprint)
        {
            builder.AddFingerprint();
        }
        return buffer[..builder.Length];
    }

    public static byte[] Error(TransactionId id, int code, string? reason = null)
    {
        byte[] buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingError, id);
        builder.AddErrorCode(code, reason);
        return buffer[..builder.Length];
    }

    public static byte[] Request(TransactionId id)
    {
        byte[] buffer = new byte[64];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, id);
        return buffer[..builder.Length];
    }
}
