using System.Globalization;

namespace NatPunch.Relay;

/// <summary>
/// A TURN server named as in RFC 7065: <c>turn:HOST[:PORT][?transport=udp|tcp]</c>. Port 3478 and
/// UDP when left out. <c>turns:</c> (TLS) is not supported and is refused with a clear message.
/// </summary>
public sealed record TurnServerUri(HostAndPort Server, TurnServerTransport Transport)
{
    /// <summary>The default TURN port (RFC 8656 §18).</summary>
    public const int DefaultPort = 3478;

    /// <summary>Parses <paramref name="text"/>; never throws, <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string? text, out TurnServerUri uri, out string error)
    {
        uri = null!;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "empty TURN server; expected turn:HOST:PORT?transport=udp|tcp";
            return false;
        }
        if (text.StartsWith("turns:", StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{text}': turns: (TURN over TLS) is not supported; use turn:HOST:PORT?transport=udp or tcp";
            return false;
        }
        if (!text.StartsWith("turn:", StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{text}': expected turn:HOST:PORT?transport=udp|tcp";
            return false;
        }
        string rest = text[5..];
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            rest = rest[2..]; // tolerate turn://host (not RFC 7065, but common)
        }
        TurnServerTransport transport = TurnServerTransport.Udp;
        int query = rest.IndexOf('?');
        if (query >= 0)
        {
            string parameters = rest[(query + 1)..];
            rest = rest[..query];
            foreach (string parameter in parameters.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                int equals = parameter.IndexOf('=');
                string key = equals < 0 ? parameter : parameter[..equals];
                string value = equals < 0 ? "" : parameter[(equals + 1)..];
                if (!key.Equals("transport", StringComparison.OrdinalIgnoreCase))
                {
                    error = $"'{text}': unknown parameter '{key}' (only transport=udp|tcp)";
                    return false;
                }
                switch (value.ToLowerInvariant())
                {
                    case "udp":
                        transport = TurnServerTransport.Udp;
                        break;
                    case "tcp":
                        transport = TurnServerTransport.Tcp;
                        break;
                    default:
                        error = $"'{text}': transport must be udp or tcp, not '{value}'";
                        return false;
                }
            }
        }
        if (!HostAndPort.TryParse(rest, DefaultPort, out HostAndPort server, out string hostError))
        {
            error = $"'{text}': {hostError}";
            return false;
        }
        uri = new TurnServerUri(server, transport);
        error = string.Empty;
        return true;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"turn:{Server}?transport={(Transport == TurnServerTransport.Tcp ? "tcp" : "udp")}");
}
