using System.Net;

namespace NatPunch.Net;

/// <summary>
/// An HTTP proxy that the rendezvous and the relay's TCP connections go through with CONNECT:
/// <c>http://[USER:PASSWORD@]HOST[:PORT]</c> (port 3128, squid's, if left out), from <c>--proxy</c>
/// or <c>HTTPS_PROXY</c>/<c>https_proxy</c>, with <c>NO_PROXY</c>/<c>no_proxy</c> naming hosts to reach directly.
/// </summary>
public sealed record HttpProxy(HostAndPort Server, NetworkCredential? Credentials, IReadOnlyList<string> Bypass)
{
    public const int DefaultPort = 3128;

    /// <summary>Parses a proxy URL; never throws.</summary>
    public static bool TryParse(string? text, IReadOnlyList<string>? bypass, out HttpProxy proxy, out string error)
    {
        proxy = null!;
        text = text?.Trim() ?? "";
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text; // HTTPS_PROXY=host:port is common
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Host.Length == 0)
        {
            error = $"'{Redact(text)}' is not a proxy URL (http://[USER:PASSWORD@]HOST:PORT)";
            return false;
        }
        if (uri.Scheme != Uri.UriSchemeHttp)
        {
            error = $"'{Redact(text)}': only http:// proxies are supported (CONNECT over plain HTTP to the proxy), not {uri.Scheme}://";
            return false;
        }
        NetworkCredential? credentials = null;
        if (uri.UserInfo.Length > 0)
        {
            int colon = uri.UserInfo.IndexOf(':');
            string user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            string password = colon < 0 ? "" : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            credentials = new NetworkCredential(user, password);
        }
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        proxy = new HttpProxy(new HostAndPort(host, uri.IsDefaultPort && !HasExplicitPort(text) ? DefaultPort : uri.Port), credentials, bypass ?? []);
        error = "";
        return true;
    }

    /// <summary>
    /// The proxy of the environment (<c>HTTPS_PROXY</c>, then <c>https_proxy</c>) with its <c>NO_PROXY</c>
    /// list, or null when none is set. A malformed value is an error, not silently ignored.
    /// </summary>
    public static bool TryFromEnvironment(Func<string, string?> environment, out HttpProxy? proxy, out string error)
    {
        proxy = null;
        error = "";
        string? text = environment("HTTPS_PROXY") ?? environment("https_proxy");
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }
        if (!TryParse(text, BypassFromEnvironment(environment), out HttpProxy parsed, out error))
        {
            error = "HTTPS_PROXY: " + error;
            return false;
        }
        proxy = parsed;
        return true;
    }

    /// <summary>The <c>NO_PROXY</c> (else <c>no_proxy</c>) entries of <paramref name="environment"/>.</summary>
    public static IReadOnlyList<string> BypassFromEnvironment(Func<string, string?> environment) =>
        ParseBypass(environment("NO_PROXY") ?? environment("no_proxy"));

    /// <summary>The entries of a NO_PROXY value: host names, domain suffixes (.example.com or example.com), IP addresses, CIDRs, or *.</summary>
    public static IReadOnlyList<string> ParseBypass(string? text) =>
        (text ?? "").Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Whether <paramref name="host"/> is to be reached without the proxy (curl's reading of NO_PROXY).</summary>
    public bool Bypasses(string host)
    {
        host = host.Trim('[', ']').TrimEnd('.').ToLowerInvariant();
        IPAddress.TryParse(host, out IPAddress? address);
        foreach (string raw in Bypass)
        {
            string entry = raw.ToLowerInvariant();
            if (entry == "*")
            {
                return true;
            }
            if (address is not null)
            {
                if (entry.Contains('/') && IPNetwork.TryParse(entry, out IPNetwork network) && network.Contains(address))
                {
                    return true;
                }
                if (IPAddress.TryParse(entry.Trim('[', ']'), out IPAddress? other) && other.Equals(address))
                {
                    return true;
                }
                continue;
            }
            // A port on the entry is ignored: the proxy is used per host here.
            string domain = entry.TrimStart('*').TrimStart('.');
            int colon = domain.LastIndexOf(':');
            if (colon > 0 && !domain.Contains(']'))
            {
                domain = domain[..colon];
            }
            if (domain.Length > 0 && (host == domain || host.EndsWith("." + domain, StringComparison.Ordinal)))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The proxy without its password, for messages.</summary>
    public override string ToString() => Credentials is null ? $"http://{Server}" : $"http://{Credentials.UserName}:***@{Server}";

    private static bool HasExplicitPort(string text)
    {
        int at = text.LastIndexOf('@');
        string authority = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..];
        if (at >= 0)
        {
            authority = text[(at + 1)..];
        }
        authority = authority.Split('/')[0];
        int bracket = authority.LastIndexOf(']');
        return authority.IndexOf(':', bracket + 1) >= 0;
    }

    private static string Redact(string text)
    {
        int at = text.LastIndexOf('@');
        int start = text.IndexOf("://", StringComparison.Ordinal);
        return at < 0 || start < 0 ? text : text[..(start + 3)] + "***" + text[at..];
    }
}
