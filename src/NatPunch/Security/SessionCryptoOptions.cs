namespace NatPunch.Security;

/// <summary>
/// The transport's cipher and when its keys are replaced (Noise §11.3 rekey): by time and by message
/// count, whichever comes first.
/// </summary>
public sealed record SessionCryptoOptions
{
    public static SessionCryptoOptions Default { get; } = new();

    /// <summary>A sender moves to the next key after this long.</summary>
    public TimeSpan RekeyAfter { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A sender moves to the next key after this many datagrams under one key (far below the 2^64 nonces).</summary>
    public ulong RekeyAfterMessages { get; init; } = 1UL << 32;

    /// <summary>
    /// Offer AES-256-GCM for the transport in the handshake (only where this machine has the
    /// instructions for it). Used when the peer offers it too; ChaCha20-Poly1305 otherwise.
    /// </summary>
    public bool OfferAesGcm { get; init; } = true;
}
