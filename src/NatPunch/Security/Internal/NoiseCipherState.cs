using System.Buffers.Binary;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace NatPunch.Security.Internal;

/// <summary>
/// The Noise CipherState (Noise rev 34 §5.1) for ChaChaPoly: a key and a 64-bit counter nonce,
/// encoded as 32 zero bits then the counter little-endian (§12.3). Without a key it passes data through.
/// </summary>
internal sealed class NoiseCipherState : IDisposable
{
    public const int TagLength = 16;
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.ChaCha20Poly1305;

    private Key? _key;
    private ulong _nonce;

    public bool HasKey => _key is not null;

    public void InitializeKey(ReadOnlySpan<byte> key)
    {
        _key?.Dispose();
        _key = Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey);
        _nonce = 0;
    }

    /// <summary>Writes the ciphertext (plaintext length + 16) into <paramref name="destination"/>; returns its length.</summary>
    public int EncryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (_key is null)
        {
            plaintext.CopyTo(destination);
            return plaintext.Length;
        }
        Aead.Encrypt(_key, NextNonce(stackalloc byte[12]), ad, plaintext, destination[..(plaintext.Length + TagLength)]);
        return plaintext.Length + TagLength;
    }

    /// <summary>False when the ciphertext does not authenticate (the nonce is then not used up, §5.1).</summary>
    public bool DecryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> destination, out int written)
    {
        if (_key is null)
        {
            ciphertext.CopyTo(destination);
            written = ciphertext.Length;
            return true;
        }
        written = 0;
        if (ciphertext.Length < TagLength || _nonce == ulong.MaxValue)
        {
            return false;
        }
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, _nonce);
        if (!Aead.Decrypt(_key, nonce, ad, ciphertext, destination[..(ciphertext.Length - TagLength)]))
        {
            return false;
        }
        _nonce++;
        written = ciphertext.Length - TagLength;
        return true;
    }

    private Span<byte> NextNonce(Span<byte> nonce)
    {
        // 2^64-1 is reserved (§5.1); a handshake never gets near it, but say so rather than wrap.
        if (_nonce == ulong.MaxValue)
        {
            throw new CryptographicException("Noise nonce exhausted.");
        }
        WriteNonce(nonce, _nonce++);
        return nonce;
    }

    public static void WriteNonce(Span<byte> nonce, ulong counter)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
    }

    public void Dispose() => _key?.Dispose();
}
