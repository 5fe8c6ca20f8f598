namespace NatPunch.Security.Internal;

/// <summary>
/// What a side tells the other inside its encrypted handshake messages (IK's two, XX's second and
/// third): for now one byte of flags, the transport ciphers it offers beyond ChaCha20-Poly1305.
/// An empty payload (as from versions before it) offers nothing; bytes after the ones known here
/// are ignored, so later versions can add fields. The payload is part of the handshake transcript,
/// so a changed byte fails the handshake instead of downgrading it.
/// </summary>
internal static class HandshakePayload
{
    private const byte OffersAesGcm = 0x01;

    public static byte[] Write(bool offerAesGcm) => [offerAesGcm ? OffersAesGcm : (byte)0];

    public static bool ReadsOfferOfAesGcm(ReadOnlySpan<byte> payload) => payload.Length > 0 && (payload[0] & OffersAesGcm) != 0;
}
