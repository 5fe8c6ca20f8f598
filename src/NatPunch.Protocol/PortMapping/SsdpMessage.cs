using System.Text;

namespace NatPunch.Protocol.PortMapping;

/// <summary>
/// SSDP discovery (UPnP Device Architecture 1.1 §1.3): the M-SEARCH a control point multicasts to
/// 239.255.255.250:1900 (or unicasts to its gateway), and the HTTP-over-UDP answers that give a
/// device description's LOCATION.
/// </summary>
public static class SsdpMessage
{
    public const int Port = 1900;
    public const string MulticastAddress = "239.255.255.250";
    public const string InternetGatewayDevice = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";

    /// <summary>An M-SEARCH for <paramref name="searchTarget"/>, answers within <paramref name="maxWaitSeconds"/> (MX, 1–5).</summary>
    public static byte[] SearchRequest(string searchTarget = InternetGatewayDevice, int maxWaitSeconds = 1) =>
        Encoding.ASCII.GetBytes(
            "M-SEARCH * HTTP/1.1\r\n"
            + $"HOST: {MulticastAddress}:{Port}\r\n"
            + "MAN: \"ssdp:discover\"\r\n"
            + $"MX: {Math.Clamp(maxWaitSeconds, 1, 5)}\r\n"
            + $"ST: {searchTarget}\r\n"
            + "\r\n");

    /// <summary>
    /// Parses a search answer ("HTTP/1.1 200 OK" with a LOCATION header of an http URL): false for
    /// anything else (NOTIFY, other status, no or bad LOCATION). Header names are case-insensitive.
    /// </summary>
    public static bool TryParseResponse(ReadOnlySpan<byte> datagram, out Uri location, out string searchTarget)
    {
        location = null!;
        searchTarget = "";
        if (datagram.Length > 8192)
        {
            return false;
        }
        string text = Encoding.ASCII.GetString(datagram);
        string[] lines = text.Split("\r\n");
        string[] status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || status[1] != "200")
        {
            return false;
        }
        Uri? found = null;
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (name.Equals("LOCATION", StringComparison.OrdinalIgnoreCase)
                && Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) && uri.Scheme == Uri.UriSchemeHttp)
            {
                found = uri;
            }
            else if (name.Equals("ST", StringComparison.OrdinalIgnoreCase))
            {
                searchTarget = value;
            }
        }
        if (found is null)
        {
            return false;
        }
        location = found;
        return true;
    }
}
