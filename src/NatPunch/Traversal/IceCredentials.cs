using System.Security.Cryptography;

namespace NatPunch.Traversal;

/// <summary>
/// ICE short-term credentials (RFC 8445 §5.3): a username fragment of at least 24 bits of
/// randomness and a password of at least 128 bits, both from the ice-char alphabet.
/// </summary>
public sealed record IceCredentials(string Ufrag, string Pwd)
{
    private const string IceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    public static IceCredentials NewRandom() => new(RandomString(8), RandomString(24));

    private static string RandomString(int length) =>
        string.Create(length, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = IceChars[RandomNumberGenerator.GetInt32(IceChars.Length)];
            }
        });
}
