using System.Security.Cryptography;
using NSec.Cryptography;

namespace NatPunch.Security.Internal;

/// <summary>
/// One direction's transport key after the handshake: ChaChaPoly with an explicit counter nonce,
/// as WireGuard sends it, so datagrams can be lost or reordered (Noise §11.4 "out-of-order
/// transport messages"). Stateless apart from the key, so it is safe from any thread.
/// </summary>
internal sealed class NoiseTransportCipher : IDisposable
{
    public const int TagLength = NoiseCipherState.TagLength;
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.ChaCha20Poly1305;

    private readonly Key _key;

    public NoiseTransportCipher(byte[] key)
    {
        _key = Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        CryptographicOperations.ZeroMemory(key);
    }

    /// <summary>Writes plaintext + tag into <paramref name="destination"/>; returns the length.</summary>
    public int Seal(ulong counter, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (counter == ulong.MaxValue)
        {
            throw new CryptographicException("The nonce 2^64-1 is reserved (Noise §5.1).");
        }
        Span<byte> nonce = stackalloc byte[12];
        NoiseCipherState.WriteNonce(nonce, counter);
        Aead.Encrypt(_key, nonce, ad, plaintext, destination[..(plaintext.Length + TagLength)]);
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
        NoiseCipherState.WriteNonce(nonce, counter);
        if (!Aead.Decrypt(_key, nonce, ad, ciphertext, destination[..(ciphertext.Length - TagLength)]))
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
        NoiseCipherState.WriteNonce(nonce, ulong.MaxValue);
        Span<byte> output = stackalloc byte[32 + TagLength];
        Aead.Encrypt(_key, nonce, ReadOnlySpan<byte>.Empty, stackalloc byte[32], output);
        var next = new NoiseTransportCipher(output[..32].ToArray());
        CryptographicOperations.ZeroMemory(output);
        return next;
    }

    public void Dispose() => _key.Dispose();
}
