using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NatPunch;

/// <summary>
/// A server named as HOST:PORT on a command line: a DNS name, an IPv4 address, or an IPv6 address
/// in brackets (<c>[2001:db8::1]:3478</c>, as in RFC 3986 §3.2.2). The port may be left out where
/// the caller has a default.
/// </summary>
public readonly record struct HostAndPort(string Host, int Port)
{
    /// <summary>Parses <paramref name="text"/>. Never throws; on failure <paramref name="error"/> says what is wrong.</summary>
    /// <param name="defaultPort">Used when no port is given; 0 makes the port required.</param>
    public static bool TryParse(string? text, int defaultPort, out HostAndPort value, out string error)
    {
        value = default;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "empty address; expected HOST:PORT";
            return false;
        }

        string host;
        string? portText = null;
        if (text[0] == '[')
        {
            int close = text.IndexOf(']');
            if (close < 0)
            {
                error = $"'{text}': missing ']' after the IPv6 address";
                return false;
            }
            host = text[1..close];
            string rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    error = $"'{text}': expected ':PORT' after ']'";
                    return false;
                }
                portText = rest[1..];
            }
            if (!IPAddress.TryParse(host, out IPAddress? v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"'{host}' is not an IPv6 address";
                return false;
            }
        }
        else
        {
            int colon = text.IndexOf(':');
            if (colon >= 0 && text.IndexOf(':', colon + 1) >= 0)
            {
                // Two or more colons: a bare IPv6 address, which cannot carry a port without brackets.
                if (!IPAddress.TryParse(text, out _))
                {
                    error = $"'{text}' is not HOST:PORT; write IPv6 addresses as [ADDRESS]:PORT";
                    return false;
                }
                host = text;
            }
            else if (colon >= 0)
            {
                host = text[..colon];
                portText = text[(colon + 1)..];
            }
            else
            {
                host = text;
            }
        }

        if (host.Length == 0)
        {
            error = $"'{text}': the host is empty";
            return false;
        }
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            error = $"'{host}' is not a valid host name or address";
            return false;
        }

        int port = defaultPort;
        if (portText is not null)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            {
                error = $"'{portText}' is not a port number from 1 to 65535";
                return false;
            }
        }
        else if (defaultPort == 0)
        {
            error = $"'{text}': the port is missing; expected HOST:PORT";
            return false;
        }

        value = new HostAndPort(host, port);
        error = string.Empty;
        return true;
    }

    /// <summary>
    /// Resolves the host: an address literal as is, a name through DNS. Takes the first address of
    /// <paramref name="family"/> if given, else the first IPv4 address, else the first IPv6 one.
    /// </summary>
    /// <exception cref="SocketException">The name does not resolve, or not to an address of <paramref name="family"/>.</exception>
    public async Task<IPEndPoint> ResolveAsync(AddressFamily? family = null, CancellationToken cancellationToken = default)
    {
        if (IPAddress.TryParse(Host, out IPAddress? literal))
        {
            if (family is { } wanted && literal.AddressFamily != wanted)
            {
                throw new SocketException((int)SocketError.AddressFamilyNotSupported);
            }
            return new IPEndPoint(literal, Port);
        }
        IPAddress[] addresses = await Dns.GetHostAddressesAsync(Host, family ?? AddressFamily.Unspecified, cancellationToken).ConfigureAwait(false);
        IPAddress? chosen = family is null
            ? addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6)
            : addresses.FirstOrDefault(a => a.AddressFamily == family);
        return chosen is null ? throw new SocketException((int)SocketError.HostNotFound) : new IPEndPoint(chosen, Port);
    }

    public override string ToString() =>
        Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
