using System.Security.Cryptography;
using System.Text;

namespace NatPunch.Protocol.Stun;

/// <summary>Keys for MESSAGE-INTEGRITY (RFC 8489 §9.1.1, §9.2.2) and USERHASH (§14.4).</summary>
public static class StunCredentials
{
    /// <summary>Short-term key: the OpaqueString-prepared password (RFC 8489 §9.1.1, RFC 8265 §4.2).</summary>
    public static byte[] ShortTermKey(string password) => Encoding.UTF8.GetBytes(Prepare(password));

    /// <summary>
    /// Long-term key (RFC 8489 §9.2.2): MD5 or SHA-256 of "username:realm:password", where the
    /// username is processed with UsernameCasePreserved and the password with OpaqueString.
    /// </summary>
    public static byte[] LongTermKey(string username, string realm, string password, PasswordAlgorithm algorithm = PasswordAlgorithm.Md5)
    {
        byte[] input = Encoding.UTF8.GetBytes($"{Prepare(username)}:{realm}:{Prepare(password)}");
        return algorithm == PasswordAlgorithm.Sha256 ? SHA256.HashData(input) : MD5.HashData(input);
    }

    /// <summary>USERHASH: SHA-256 of "username:realm" (RFC 8489 §14.4).</summary>
    public static byte[] UserHash(string username, string realm) =>
        SHA256.HashData(Encoding.UTF8.GetBytes($"{Prepare(username)}:{realm}"));

    /// <summary>
    /// The part of the PRECIS profiles that changes real-world strings: normalization to NFC.
    /// Strings that are already NFC (all ASCII ones) are unchanged.
    /// </summary>
    private static string Prepare(string text) => text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
}
