using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace NatPunch.Security;

/// <summary>
/// A peer's long-term public key (X25519, 32 bytes): who a peer is, whatever name it registers.
/// Its one textual form, the same everywhere (<c>natpunch id</c>, <c>--peer-key</c>, <c>--allow</c>,
/// JSON <c>peer_key</c>, the known-peers file), is unpadded base64url: 43 characters.
/// </summary>
public sealed class PeerKey : IEquatable<PeerKey>
{
    public const int Length = 32;
    private const int TextLength = 43;

    private readonly byte[] _bytes;

    private PeerKey(byte[] bytes) => _bytes = bytes;

    public static PeerKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"A peer key is {Length} bytes, not {bytes.Length}.", nameof(bytes));
        }
        return new PeerKey(bytes.ToArray());
    }

    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>Parses the textual form; never throws. <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out PeerKey? key, out string error)
    {
        key = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "the key is empty";
            return false;
        }
        if (text.Length != TextLength)
        {
            error = $"a key is {TextLength} characters of base64url (as 'natpunch id' prints it), not {text.Length}";
            return false;
        }
        Span<byte> bytes = stackalloc byte[Length + 2];
        if (!Internal.Base64UrlText.TryDecode(text, bytes, out int written) || written != Length)
        {
            error = "a key is base64url: letters, digits, '-' and '_' only";
            return false;
        }
        key = new PeerKey(bytes[..Length].ToArray());
        error = "";
        return true;
    }

    public override string ToString() => System.Buffers.Text.Base64Url.EncodeToString(_bytes);

    public bool Equals(PeerKey? other) => other is not null && CryptographicOperations.FixedTimeEquals(_bytes, other._bytes);

    public override bool Equals(object? obj) => obj is PeerKey other && Equals(other);

    public override int GetHashCode() => BitConverter.ToInt32(_bytes, 0);
}
