using System.Security.Cryptography;
using System.Text;

namespace NatPunch.Security.Internal;

/// <summary>
/// The Noise SymmetricState (§5.2) with SHA-256: the chaining key, the handshake hash and the
/// CipherState that MixKey keys. Its HKDF is RFC 5869's with the chaining key as salt and an empty
/// info (§4.3).
/// </summary>
internal sealed class NoiseSymmetricState : IDisposable
{
    public const int HashLength = 32;

    private readonly byte[] _chainingKey = new byte[HashLength];
    private readonly byte[] _hash = new byte[HashLength];
    private readonly NoiseCipherState _cipher = new();

    public NoiseSymmetricState(string protocolName)
    {
        byte[] name = Encoding.ASCII.GetBytes(protocolName);
        if (name.Length <= HashLength)
        {
            name.CopyTo(_hash, 0);
        }
        else
        {
            SHA256.HashData(name, _hash);
        }
        _hash.CopyTo(_chainingKey, 0);
    }

    /// <summary>h: after the handshake, a value both sides share that names this session (channel binding, §11.2).</summary>
    public ReadOnlySpan<byte> HandshakeHash => _hash;

    public bool HasKey => _cipher.HasKey;

    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> output = stackalloc byte[2 * HashLength];
        Hkdf(_chainingKey, inputKeyMaterial, output);
        output[..HashLength].CopyTo(_chainingKey);
        _cipher.InitializeKey(output[HashLength..]);
        CryptographicOperations.ZeroMemory(output);
    }

    public void MixHash(ReadOnlySpan<byte> data)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(_hash);
        sha.AppendData(data);
        sha.GetHashAndReset(_hash);
    }

    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        int written = _cipher.EncryptWithAd(_hash, plaintext, destination);
        MixHash(destination[..written]);
        return written;
    }

    public bool DecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> destination, out int written)
    {
        if (!_cipher.DecryptWithAd(_hash, ciphertext, destination, out written))
        {
            return false;
        }
        MixHash(ciphertext);
        return true;
    }

    /// <summary>The two transport keys (§5.2 Split): the initiator sends with the first, the responder with the second.</summary>
    public (byte[] First, byte[] Second) Split()
    {
        Span<byte> output = stackalloc byte[2 * HashLength];
        Hkdf(_chainingKey, ReadOnlySpan<byte>.Empty, output);
        (byte[], byte[]) keys = (output[..HashLength].ToArray(), output[HashLength..].ToArray());
        CryptographicOperations.ZeroMemory(output);
        return keys;
    }

    /// <summary>
    /// Noise's HKDF with two outputs (§4.3), written out with HMAC-SHA256 because the platform's
    /// RFC 5869 HKDF refuses the empty input key material that Split uses.
    /// </summary>
    private static void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output)
    {
        Span<byte> tempKey = stackalloc byte[HashLength];
        HMACSHA256.HashData(chainingKey, inputKeyMaterial, tempKey);
        Span<byte> block = stackalloc byte[HashLength + 1];
        block[0] = 1;
        HMACSHA256.HashData(tempKey, block[..1], output[..HashLength]);
        output[..HashLength].CopyTo(block);
        block[HashLength] = 2;
        HMACSHA256.HashData(tempKey, block, output[HashLength..(2 * HashLength)]);
        CryptographicOperations.ZeroMemory(tempKey);
        CryptographicOperations.ZeroMemory(block);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_chainingKey);
        _cipher.Dispose();
    }
}
