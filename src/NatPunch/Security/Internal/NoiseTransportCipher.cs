using System.Buffers.Binary;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace NatPunch.Security.Internal;

/// <summary>
/// One direction's transport key after the handshake: ChaChaPoly or AESGCM (<see cref="TransportCipher"/>)
/// with an explicit counter nonce, as WireGuard sends it, so datagrams can be lost or reordered
/// (Noise §11.4 "out-of-order transport messages"). The nonce is Noise's for the cipher (§12.3:
/// the counter little-endian for ChaChaPoly, §12.4: big-endian for AESGCM, after four zero bytes).
/// Stateless apart from the key, so it is safe from any thread.
/// </summary>
internal sealed class NoiseTransportCipher : IDisposable
{
    public const int TagLength = NoiseCipherState.TagLength;

    private readonly AeadAlgorithm _aead;
    private readonly Key _key;

    public NoiseTransportCipher(byte[] key, TransportCipher cipher = TransportCipher.ChaCha20Poly1305)
    {
        Cipher = cipher;
        _aead = cipher == TransportCipher.Aes256Gcm ? AeadAlgorithm.Aes256Gcm : AeadAlgorithm.ChaCha20Poly1305;
        _key = Key.Import(_aead, key, KeyBlobFormat.RawSymmetricKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        CryptographicOperations.ZeroMemory(key);
    }

    public TransportCipher Cipher { get; }

    /// <summary>Whether this machine can seal with <paramref name="cipher"/> (AES-GCM needs AES-NI and PCLMUL, or ARMv8's crypto extensions).</summary>
    public static bool IsSupported(TransportCipher cipher) => cipher != TransportCipher.Aes256Gcm || Aes256Gcm.IsSupported;

    /// <summary>Writes plaintext + tag into <paramref name="destination"/>; returns the length.</summary>
    public int Seal(ulong counter, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (counter == ulong.MaxValue)
        {
            throw new CryptographicException("The nonce 2^64-1 is reserved (Noise §5.1).");
        }
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, counter);
        _aead.Encrypt(_key, nonce, ad, plaintext, destination[..(plaintext.Length + TagLength)]);
        return plaintext.Length + TagLength;
    }

    public bool TryOpen(ulong counter, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> destination, out int written)
    {
        written = 0;
        if (ciphertext.Length < TagLength || counter == ulong.MaxValue)
        {
            return false;
        }
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, counter);
        if (!_aead.Decrypt(_key, nonce, ad, ciphertext, destination[..(ciphertext.Length - TagLength)]))
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
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, ulong.MaxValue);
        Span<byte> output = stackalloc byte[32 + TagLength];
        _aead.Encrypt(_key, nonce, ReadOnlySpan<byte>.Empty, stackalloc byte[32], output);
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

    public void Dispose() => _key.Dispose();
}
