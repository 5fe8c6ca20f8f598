using System.Globalization;

namespace NatPunch.Relay;

/// <summary>
/// A TURN server named as in RFC 7065: <c>turn:HOST[:PORT][?transport=udp|tcp]</c> (port 3478 and
/// UDP when left out) or <c>turns:HOST[:PORT]</c>, TURN over TLS over TCP (port 5349). DTLS
/// (<c>turns:…?transport=udp</c>) is not supported and is refused with a clear message.
/// </summary>
public sealed record TurnServerUri(HostAndPort Server, TurnServerTransport Transport, bool Tls = false)
{
    /// <summary>The default TURN port (RFC 8656 §18).</summary>
    public const int DefaultPort = 3478;

    /// <summary>The default TURN-over-TLS port (RFC 8656 §18).</summary>
    public const int DefaultTlsPort = 5349;

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
        bool tls = text.StartsWith("turns:", StringComparison.OrdinalIgnoreCase);
        if (!tls && !text.StartsWith("turn:", StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{text}': expected turn:HOST:PORT?transport=udp|tcp or turns:HOST:PORT";
            return false;
        }
        string rest = text[(tls ? 6 : 5)..];
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            rest = rest[2..]; // tolerate turn://host (not RFC 7065, but common)
        }
        TurnServerTransport transport = tls ? TurnServerTransport.Tcp : TurnServerTransport.Udp;
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
                    case "udp" when tls:
                        error = $"'{text}': turns: with transport=udp is DTLS, which is not supported; use turns:HOST:PORT (TLS over TCP)";
                        return false;
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
        if (!HostAndPort.TryParse(rest, tls ? DefaultTlsPort : DefaultPort, out HostAndPort server, out string hostError))
        {
            error = $"'{text}': {hostError}";
            return false;
        }
        uri = new TurnServerUri(server, transport, tls);
        error = string.Empty;
        return true;
    }

    public override string ToString() => Tls
        ? string.Create(CultureInfo.InvariantCulture, $"turns:{Server}?transport=tcp")
        : string.Create(CultureInfo.InvariantCulture, $"turn:{Server}?transport={(Transport == TurnServerTransport.Tcp ? "tcp" : "udp")}");
}
