using NSec.Cryptography;

namespace NatPunch.Security;

/// <summary>
/// This peer's long-term key pair (X25519), the static key of the Noise handshake. Kept in a file
/// (see <c>IdentityFile</c>); its <see cref="PublicKey"/> is what other peers pin.
/// </summary>
public sealed class PeerIdentity : IDisposable
{
    private PeerIdentity(Key key)
    {
        Key = key;
        PublicKey = PeerKey.FromBytes(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    internal Key Key { get; }

    public PeerKey PublicKey { get; }

    /// <summary>A fresh random key pair.</summary>
    public static PeerIdentity Generate() => new(Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>From the 32 raw bytes of a private key (as <see cref="ExportPrivateKey"/> gives them).</summary>
    public static PeerIdentity FromPrivateKey(ReadOnlySpan<byte> privateKey) =>
        new(Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    public byte[] ExportPrivateKey() => Key.Export(KeyBlobFormat.RawPrivateKey);

    public void Dispose() => Key.Dispose();
}
