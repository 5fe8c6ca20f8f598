namespace NatPunch.Session;

/// <summary>
/// The session layer's datagram on the punched path: a marker byte 0xE1 (outside the STUN,
/// DTLS, TURN ChannelData and RTP ranges of RFC 7983, and distinct from the rendezvous marker),
/// an 8-byte session tag, then a stream segment. The tag keeps datagrams of other sessions and
/// strays out; the next step replaces it by authenticated encryption.
/// </summary>
public static class SessionFrame
{
    public const byte Marker = 0xE1;
    public const int TagLength = 8;
    public const int HeaderLength = 1 + TagLength;

    public static bool LooksLikeSession(ReadOnlySpan<byte> datagram) => datagram.Length >= HeaderLength && datagram[0] == Marker;

    /// <summary>The payload of a frame carrying <paramref name="tag"/>; false for anything else.</summary>
    public static bool TryOpen(ReadOnlySpan<byte> datagram, ulong tag, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (!LooksLikeSession(datagram) || System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(datagram[1..]) != tag)
        {
            return false;
        }
        payload = datagram[HeaderLength..];
        return true;
    }

    public static int Write(Span<byte> destination, ulong tag, ReadOnlySpan<byte> payload)
    {
        destination[0] = Marker;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination[1..], tag);
        payload.CopyTo(destination[HeaderLength..]);
        return HeaderLength + payload.Length;
    }

    /// <summary>Both peers derive the same tag from the session id the rendezvous gave them.</summary>
    public static ulong TagFor(string sessionId) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("natpunch-session:" + sessionId)));
}
