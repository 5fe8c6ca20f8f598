using System.Buffers.Text;
using System.Security.Cryptography;

namespace NatPunch.Protocol.Rendezvous;

/// <summary>
/// Proof that whoever resumes a session is the end that was in it (Lamport's one-time passwords, as
/// S/KEY uses them). The end makes a chain from a secret seed (derived from the session keys):
/// x₀ = seed, xᵢ₊₁ = SHA-256(xᵢ), and tells the server only the last link, the anchor
/// <c>x_Length</c> (<see cref="ResumeKeyMessage"/>). Each resume reveals the link before the last
/// one revealed; the server checks that hashing it gives its anchor (allowing
/// <see cref="MaxSkipped"/> links of attempts that never reached it) and keeps it as the new anchor.
/// A revealed link is worthless afterwards, so one that is sniffed cannot be used again, and the
/// anchor tells nothing of the links before it.
/// </summary>
public static class ResumeChain
{
    /// <summary>Resumes one session can have.</summary>
    public const int Length = 1024;

    /// <summary>Links of resumes that were sent but never arrived, still accepted after them.</summary>
    public const int MaxSkipped = 8;

    private const int LinkLength = 32;

    /// <summary>The link <paramref name="index"/> of the chain from <paramref name="seed"/>, base64url.</summary>
    public static string Link(ReadOnlySpan<byte> seed, int index)
    {
        if (index == 0)
        {
            return Base64Url.EncodeToString(seed);
        }
        Span<byte> link = stackalloc byte[LinkLength];
        SHA256.HashData(seed, link);
        for (int i = 1; i < index; i++)
        {
            SHA256.HashData(link, link);
        }
        return Base64Url.EncodeToString(link);
    }

    /// <summary>A link's text form: 43 base64url characters (32 bytes). The server keeps nothing else as an anchor.</summary>
    public static bool IsWellFormed(string? text)
    {
        Span<byte> link = stackalloc byte[LinkLength];
        return text is not null && TryDecode(text, link);
    }

    /// <summary>True when hashing <paramref name="proof"/> 1 to <see cref="MaxSkipped"/> + 1 times gives <paramref name="anchor"/>.</summary>
    public static bool Verifies(string proof, string anchor)
    {
        Span<byte> link = stackalloc byte[LinkLength];
        Span<byte> expected = stackalloc byte[LinkLength];
        if (!TryDecode(proof, link) || !TryDecode(anchor, expected))
        {
            return false;
        }
        for (int i = 0; i <= MaxSkipped; i++)
        {
            SHA256.HashData(link, link);
            if (CryptographicOperations.FixedTimeEquals(link, expected))
            {
                return true;
            }
        }
        return false;
    }

    private static bool TryDecode(string text, Span<byte> destination)
    {
        if (text.Length != 43 || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return false;
        }
        return Base64Url.TryDecodeFromChars(text, destination, out int written) && written == LinkLength;
    }
}
