namespace NatPunch.Security;

/// <summary>
/// A handshake datagram on the selected path: marker 0xE2, the kind, then the Noise message
/// (nothing for <see cref="HandshakeFrameKind.IkRejected"/>).
/// </summary>
public static class HandshakeFrame
{
    public const byte Marker = 0xE2;
    public const int HeaderLength = 2;

    public static bool LooksLikeHandshake(ReadOnlySpan<byte> datagram) => datagram.Length >= HeaderLength && datagram[0] == Marker;

    internal static byte[] Build(HandshakeFrameKind kind, ReadOnlySpan<byte> message)
    {
        byte[] frame = new byte[HeaderLength + message.Length];
        frame[0] = Marker;
        frame[1] = (byte)kind;
        message.CopyTo(frame.AsSpan(HeaderLength));
        return frame;
    }
}

/// <summary>Which handshake message a <see cref="HandshakeFrame"/> carries.</summary>
public enum HandshakeFrameKind : byte
{
    Xx1 = 1,
    Xx2 = 2,
    Xx3 = 3,
    Ik1 = 4,
    Ik2 = 5,
    /// <summary>
    /// The responder could not read an IK first message (its key is not the one the initiator
    /// expected): the initiator falls back to XX, which proves whichever key the responder has and
    /// so lets a mismatch name it. Unauthenticated: a forged one only costs IK's identity hiding.
    /// </summary>
    IkRejected = 6,
}
