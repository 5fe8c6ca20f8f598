namespace NatPunch.Security.Internal;

/// <summary>Unpadded base64url decoding that never throws (the platform's throws on a foreign character).</summary>
internal static class Base64UrlText
{
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        foreach (char c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
            {
                return false;
            }
        }
        try
        {
            return System.Buffers.Text.Base64Url.TryDecodeFromChars(text, destination, out written);
        }
        catch (FormatException)
        {
            return false; // a length that no byte string encodes to
        }
    }
}
