namespace NatPunch.Security;

/// <summary>
/// The wire form of a sealed session datagram: marker 0xE1 (outside the STUN, DTLS, TURN
/// ChannelData and RTP ranges of RFC 7983), the key epoch (low 8 bits), the 64-bit counter
/// (big-endian), then ChaCha20-Poly1305 over the message with the header as associated data.
/// The plaintext is one message type byte (<see cref="SessionMessageType"/>) and its body.
/// </summary>
public static class SealedFrame
{
    public const byte Marker = 0xE1;
    public const int HeaderLength = 1 + 1 + 8;
    public const int TagLength = 16;
    /// <summary>What sealing adds to a message body: header, type byte, tag.</summary>
    public const int Overhead = HeaderLength + 1 + TagLength;

    public static bool LooksSealed(ReadOnlySpan<byte> datagram) => datagram.Length >= HeaderLength + 1 + TagLength && datagram[0] == Marker;
}
