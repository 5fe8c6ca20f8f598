namespace NatPunch.Tests;

internal static class Hex
{
    /// <summary>Hex digits with any whitespace between them, as RFCs print packets.</summary>
    public static byte[] Parse(string text) =>
        Convert.FromHexString(string.Concat(text.Where(c => !char.IsWhiteSpace(c))));
}
