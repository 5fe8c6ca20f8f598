using System.Buffers.Binary;
using NatPunch.Protocol.Stun;

namespace NatPunch.Protocol.Turn;

/// <summary>
/// Tells TURN traffic from plain STUN on a shared port (RFC 8656 §12, RFC 7983 §7): ChannelData
/// starts with 0x40–0x7F (0x40–0x4F in RFC 8656, the rest of RFC 5766's range for older clients,
/// and nothing else on a STUN port starts so); a STUN message with the magic cookie and a method other than Binding is
/// a TURN request or indication. Looks at the first 8 bytes only; validation comes later.
/// </summary>
public static class TurnDemultiplexer
{
    public static bool IsTurn(ReadOnlySpan<byte> datagram) =>
        ChannelData.LooksLikeChannelData(datagram, legacyRange: true) || IsTurnStun(datagram);

    /// <summary>A STUN message (cookie present) whose method is one of TURN's.</summary>
    public static bool IsTurnStun(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < StunConstants.HeaderLength || (datagram[0] & 0xC0) != 0
            || BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]) != StunConstants.MagicCookie)
        {
            return false;
        }
        StunMethod method = StunMessageType.FromValue(BinaryPrimitives.ReadUInt16BigEndian(datagram)).Method;
        return method is StunMethod.Allocate or StunMethod.Refresh or StunMethod.Send or StunMethod.Data
            or StunMethod.CreatePermission or StunMethod.ChannelBind or StunMethod.Connect
            or StunMethod.ConnectionBind or StunMethod.ConnectionAttempt;
    }
}
