using System.Runtime.InteropServices;

namespace NatPunch.Security.Internal;

/// <summary>
/// libsodium's two IETF AEADs, called with the key as plain bytes: the same library and functions NSec
/// calls (NSec ships it), without NSec's <c>Key</c>, which keeps every key in guarded pages
/// (<c>sodium_malloc</c>: 8 KiB resident per key). A session's two transport keys were then 16 KiB
/// of the 64 KiB an idle session may cost (bench/idle-sessions.sh). Their bytes live in pinned
/// arrays that their owner zeroes when done (<see cref="NoiseTransportCipher"/>), as WireGuard
/// keeps its keys. Spans are the caller's: lengths are checked before each call.
/// </summary>
internal static unsafe partial class SodiumAead
{
    public const int KeyLength = 32;
    public const int NonceLength = 12;
    public const int TagLength = 16;
    private const string Library = "libsodium";

    static SodiumAead()
    {
        if (sodium_init() < 0)
        {
            throw new InvalidOperationException("libsodium could not be initialised.");
        }
    }

    /// <summary>Whether libsodium's AES-256-GCM runs here (it needs AES-NI and PCLMUL, or ARMv8's crypto extensions).</summary>
    public static bool Aes256GcmAvailable => crypto_aead_aes256gcm_is_available() == 1;

    /// <summary>Seals <paramref name="plaintext"/> into <paramref name="destination"/> (plaintext + tag; they may be the same memory).</summary>
    public static void Encrypt(bool aesGcm, ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        Check(key, nonce);
        if (destination.Length != plaintext.Length + TagLength)
        {
            throw new ArgumentException("The destination must hold the plaintext and the tag.", nameof(destination));
        }
        fixed (byte* k = key, n = nonce, a = ad, m = plaintext, c = destination)
        {
            int result = aesGcm
                ? crypto_aead_aes256gcm_encrypt(c, out _, m, (ulong)plaintext.Length, a, (ulong)ad.Length, null, n, k)
                : crypto_aead_chacha20poly1305_ietf_encrypt(c, out _, m, (ulong)plaintext.Length, a, (ulong)ad.Length, null, n, k);
            if (result != 0)
            {
                throw new System.Security.Cryptography.CryptographicException("libsodium refused to seal.");
            }
        }
    }

    /// <summary>Opens <paramref name="ciphertext"/> (with its tag) into <paramref name="destination"/>; false when it does not authenticate.</summary>
    public static bool Decrypt(bool aesGcm, ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        Check(key, nonce);
        if (ciphertext.Length < TagLength || destination.Length != ciphertext.Length - TagLength)
        {
            throw new ArgumentException("The destination must hold the ciphertext less the tag.", nameof(destination));
        }
        fixed (byte* k = key, n = nonce, a = ad, c = ciphertext, m = destination)
        {
            return (aesGcm
                ? crypto_aead_aes256gcm_decrypt(m, out _, null, c, (ulong)ciphertext.Length, a, (ulong)ad.Length, n, k)
                : crypto_aead_chacha20poly1305_ietf_decrypt(m, out _, null, c, (ulong)ciphertext.Length, a, (ulong)ad.Length, n, k)) == 0;
        }
    }

    private static void Check(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce)
    {
        if (key.Length != KeyLength || nonce.Length != NonceLength)
        {
            throw new ArgumentException("An AEAD key is 32 bytes and its nonce 12.");
        }
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_aead_aes256gcm_is_available();

    [LibraryImport(Library)]
    private static partial int crypto_aead_aes256gcm_encrypt(byte* c, out ulong clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    private static partial int crypto_aead_aes256gcm_decrypt(byte* m, out ulong mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [LibraryImport(Library)]
    private static partial int crypto_aead_chacha20poly1305_ietf_encrypt(byte* c, out ulong clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    private static partial int crypto_aead_chacha20poly1305_ietf_decrypt(byte* m, out ulong mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);
}
