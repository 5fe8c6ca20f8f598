using System.Net;
using System.Net.Sockets;

namespace NatPunch.Net;

/// <summary>A "HOST:PORT" string as users type it: a name, an IPv4 address or a bracketed IPv6 address.</summary>
public readonly record struct HostPort(string Host, int Port)
{
    public static bool TryParse(string text, int defaultPort, out HostPort value, out string error)
    {
        value = default;
        error = string.Empty;
        text = text.Trim();
        if (text.Length == 0)
        {
            error = "empty address";
            return false;
        }
        if (IPAddress.TryParse(text, out IPAddress? bare) && (bare.AddressFamily == AddressFamily.InterNetworkV6 || !text.Contains(':')))
        {
            value = new HostPort(bare.ToString(), defaultPort);
            return true;
        }
        string host = text;
        int port = defaultPort;
        int colon = text.LastIndexOf(':');
        if (colon >= 0 && (text[0] != '[' || text.IndexOf(']') < colon))
        {
            host = text[..colon];
            if (!int.TryParse(text.AsSpan(colon + 1), out port) || port is < 1 or > 65535)
            {
                error = $"'{text}': the port must be a number from 1 to 65535";
                return false;
            }
        }
        host = host.Trim('[', ']');
        if (host.Length == 0)
        {
            error = $"'{text}': no host";
            return false;
        }
        value = new HostPort(host, port);
        return true;
    }

    /// <summary>The addresses of the host, IPv4 first (most NAT traversal happens over IPv4).</summary>
    public async Task<IPEndPoint[]> ResolveAsync(CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(Host, out IPAddress? literal))
        {
            return [new IPEndPoint(literal, Port)];
        }
        int port = Port;
        IPAddress[] addresses = await Dns.GetHostAddressesAsync(Host, cancellationToken).ConfigureAwait(false);
        return addresses.OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
            .Select(a => new IPEndPoint(a, port)).ToArray();
    }

    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
