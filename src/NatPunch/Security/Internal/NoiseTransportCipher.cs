using System.Buffers.Binary;
using System.Security.Cryptography;

namespace NatPunch.Security.Internal;

/// <summary>
/// One direction's transport key after the handshake: ChaChaPoly or AESGCM (<see cref="TransportCipher"/>)
/// with an explicit counter nonce, as WireGuard sends it, so datagrams can be lost or reordered
/// (Noise §11.4 "out-of-order transport messages"). The nonce is Noise's for the cipher (§12.3:
/// the counter little-endian for ChaChaPoly, §12.4: big-endian for AESGCM, after four zero bytes).
/// Stateless apart from the key, so it is safe from any thread. The key is plain bytes in a pinned
/// array, zeroed on <see cref="Dispose"/>, sealed with libsodium (<see cref="SodiumAead"/>: NSec's
/// guarded key memory cost 8 KiB per key, a quarter of what an idle session may use).
/// </summary>
internal sealed class NoiseTransportCipher : IDisposable
{
    public const int TagLength = NoiseCipherState.TagLength;

    // Pinned, so that the GC leaves no copy of the key behind when it compacts.
    private readonly byte[] _key = GC.AllocateUninitializedArray<byte>(SodiumAead.KeyLength, pinned: true);
    private readonly bool _aesGcm;
    private volatile bool _disposed;

    /// <summary>Takes <paramref name="key"/> (32 bytes) and wipes the caller's copy.</summary>
    public NoiseTransportCipher(byte[] key, TransportCipher cipher = TransportCipher.ChaCha20Poly1305)
    {
        if (key.Length != SodiumAead.KeyLength)
        {
            throw new ArgumentException("A transport key is 32 bytes.", nameof(key));
        }
        Cipher = cipher;
        _aesGcm = cipher == TransportCipher.Aes256Gcm;
        key.CopyTo(_key);
        CryptographicOperations.ZeroMemory(key);
    }

    public TransportCipher Cipher { get; }

    /// <summary>Whether this machine can seal with <paramref name="cipher"/> (AES-GCM needs AES-NI and PCLMUL, or ARMv8's crypto extensions).</summary>
    public static bool IsSupported(TransportCipher cipher) => cipher != TransportCipher.Aes256Gcm || SodiumAead.Aes256GcmAvailable;

    /// <summary>Writes plaintext + tag into <paramref name="destination"/>; returns the length.</summary>
    public int Seal(ulong counter, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (counter == ulong.MaxValue)
        {
            throw new CryptographicException("The nonce 2^64-1 is reserved (Noise §5.1).");
        }
        // Never seal under the wiped (all-zero, so public) key.
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, counter);
        SodiumAead.Encrypt(_aesGcm, _key, nonce, ad, plaintext, destination[..(plaintext.Length + TagLength)]);
        return plaintext.Length + TagLength;
    }

    public bool TryOpen(ulong counter, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> destination, out int written)
    {
        written = 0;
        if (ciphertext.Length < TagLength || counter == ulong.MaxValue || _disposed)
        {
            return false;
        }
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, counter);
        if (!SodiumAead.Decrypt(_aesGcm, _key, nonce, ad, ciphertext, destination[..(ciphertext.Length - TagLength)]))
        {
            return false;
        }
        written = ciphertext.Length - TagLength;
        return true;
    }

    /// <summary>
    /// The next key, REKEY(k) of Noise §11.3: the first 32 bytes of encrypting 32 zero bytes under
    /// the reserved nonce 2^64-1. Both sides derive it alone, so a rekey needs no round trip.
    /// </summary>
    public NoiseTransportCipher Rekey()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, ulong.MaxValue);
        Span<byte> output = stackalloc byte[32 + TagLength];
        SodiumAead.Encrypt(_aesGcm, _key, nonce, ReadOnlySpan<byte>.Empty, stackalloc byte[32], output);
        var next = new NoiseTransportCipher(output[..32].ToArray(), Cipher);
        CryptographicOperations.ZeroMemory(output);
        return next;
    }

    private void WriteNonce(Span<byte> nonce, ulong counter)
    {
        if (Cipher == TransportCipher.Aes256Gcm)
        {
            nonce[..4].Clear();
            BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], counter);
            return;
        }
        NoiseCipherState.WriteNonce(nonce, counter);
    }

    public void Dispose()
    {
        _disposed = true;
        CryptographicOperations.ZeroMemory(_key);
    }
}
