using System.Buffers.Binary;
using NatPunch.Security;
using NatPunch.Security.Internal;
using NSec.Cryptography;

namespace NatPunch.Tests.Security;

/// <summary>The transport AEADs with Noise's nonces (§12.3 ChaChaPoly: counter little-endian; §12.4 AESGCM: big-endian).</summary>
public sealed class NoiseTransportCipherTests
{
    [Theory]
    [InlineData(TransportCipher.ChaCha20Poly1305)]
    [InlineData(TransportCipher.Aes256Gcm)]
    public void SealsWithNoisesNonceForTheCipherAndOpensItsOwn(TransportCipher kind)
    {
        if (!NoiseTransportCipher.IsSupported(kind))
        {
            Assert.Fail($"{kind} is not supported on this machine: the CI machine has AES-NI, so this is a finding");
        }
        byte[] key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        byte[] plaintext = "sealed in place"u8.ToArray(), ad = [0xE5, 0x00];
        using var cipher = new NoiseTransportCipher(key.ToArray(), kind);
        byte[] sealedBytes = new byte[plaintext.Length + NoiseTransportCipher.TagLength];
        cipher.Seal(0x0102030405060708, ad, plaintext, sealedBytes);

        AeadAlgorithm aead = kind == TransportCipher.Aes256Gcm ? AeadAlgorithm.Aes256Gcm : AeadAlgorithm.ChaCha20Poly1305;
        using Key reference = Key.Import(aead, key, KeyBlobFormat.RawSymmetricKey);
        byte[] nonce = new byte[12];
        if (kind == TransportCipher.Aes256Gcm)
        {
            BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(4), 0x0102030405060708);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(nonce.AsSpan(4), 0x0102030405060708);
        }
        aead.Encrypt(reference, nonce, ad, plaintext).ShouldBe(sealedBytes);

        byte[] opened = new byte[plaintext.Length];
        cipher.TryOpen(0x0102030405060708, ad, sealedBytes, opened, out int written).ShouldBeTrue();
        opened[..written].ShouldBe(plaintext);
        cipher.TryOpen(0x0102030405060709, ad, sealedBytes, opened, out _).ShouldBeFalse();
        using NoiseTransportCipher next = cipher.Rekey();
        next.Cipher.ShouldBe(kind);
    }

    [Theory]
    [InlineData(TransportCipher.ChaCha20Poly1305)]
    [InlineData(TransportCipher.Aes256Gcm)]
    public void ADisposedCipherNeitherSealsUnderItsWipedKeyNorOpens(TransportCipher kind)
    {
        byte[] key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        var cipher = new NoiseTransportCipher(key, kind);
        key.ShouldAllBe(b => b == 0, "the caller's copy of the key is wiped");
        byte[] sealedBytes = new byte[5 + NoiseTransportCipher.TagLength];
        cipher.Seal(1, [], "hello"u8, sealedBytes);

        cipher.Dispose();

        Should.Throw<ObjectDisposedException>(() => cipher.Seal(2, [], "hello"u8, sealedBytes));
        Should.Throw<ObjectDisposedException>(() => cipher.Rekey());
        cipher.TryOpen(1, [], sealedBytes, new byte[5], out _).ShouldBeFalse();
    }
}
