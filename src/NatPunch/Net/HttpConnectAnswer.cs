using System.Globalization;
using System.Text;

namespace NatPunch.Net;

/// <summary>
/// The head of a proxy's answer to CONNECT: its status line, read from bytes that came from the
/// network. Never throws; anything that is not <c>HTTP/x.y NNN [reason]</c> is not an answer.
/// </summary>
internal static class HttpConnectAnswer
{
    /// <summary>Where the head ends (the index of its blank line's CRLFCRLF), or -1 while it has not.</summary>
    public static int HeadEnd(ReadOnlySpan<byte> received) => received.IndexOf("\r\n\r\n"u8);

    /// <summary>The status and reason of <paramref name="head"/>, the answer up to its blank line; false if it is not HTTP.</summary>
    public static bool TryParse(ReadOnlySpan<byte> head, out int status, out string reason, out string statusLine)
    {
        int eol = head.IndexOf("\r\n"u8);
        ReadOnlySpan<byte> line = eol >= 0 ? head[..eol] : head;
        statusLine = Printable(line);
        status = 0;
        reason = "";
        string[] parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/", StringComparison.Ordinal) || parts[1].Length != 3
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out status) || status < 100)
        {
            status = 0;
            return false;
        }
        reason = parts.Length > 2 ? parts[2] : "";
        return true;
    }

    /// <summary>At most 120 characters, control characters and non-ASCII shown as '?': it goes into messages.</summary>
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(Math.Min(bytes.Length, 120));
        foreach (byte b in bytes[..Math.Min(bytes.Length, 120)])
        {
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        }
        return text.ToString();
    }
}
