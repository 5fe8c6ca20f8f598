using NatPunch.Protocol.Stun;

namespace NatPunch.Net;

/// <summary>How the rendezvous (and the relay's TCP) reach the NatPunch server.</summary>
public enum ServerScheme
{
    /// <summary><c>HOST[:PORT]</c>: TLS when the server offers it on that port, else plain TCP; with no port given, TLS on 443 when 3478 cannot be reached.</summary>
    Auto,

    /// <summary><c>tcp://HOST[:PORT]</c>: plain TCP only (the rendezvous in clear).</summary>
    Tcp,

    /// <summary><c>tls://HOST[:PORT]</c>: TLS only (port 443 if left out).</summary>
    Tls,
}

/// <summary>
/// The NatPunch server as given on the command line: <c>HOST[:PORT]</c>, <c>tcp://HOST[:PORT]</c> or
/// <c>tls://HOST[:PORT]</c>. STUN and the UDP relay always use <see cref="UdpPort"/>.
/// </summary>
public sealed record ServerAddress(string Host, int Port, ServerScheme Scheme, bool PortGiven)
{
    /// <summary>The port of TLS-only servers when none is given: the one networks let out.</summary>
    public const int DefaultTlsPort = 443;

    /// <summary>The port for STUN and TURN over UDP: the given one, except with tls:// (whose port is TCP's), 3478.</summary>
    public int UdpPort => Scheme == ServerScheme.Tls ? StunConstants.DefaultPort : Port;

    /// <summary>Parses <paramref name="text"/>; never throws, <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string? text, out ServerAddress address, out string error)
    {
        address = null!;
        text = text?.Trim() ?? "";
        ServerScheme scheme = ServerScheme.Auto;
        int defaultPort = StunConstants.DefaultPort;
        int separator = text.IndexOf("://", StringComparison.Ordinal);
        if (separator >= 0)
        {
            string prefix = text[..separator].ToLowerInvariant();
            switch (prefix)
            {
                case "tls":
                    scheme = ServerScheme.Tls;
                    defaultPort = DefaultTlsPort;
                    break;
                case "tcp":
                    scheme = ServerScheme.Tcp;
                    break;
                default:
                    error = $"'{text}': unknown scheme '{prefix}://' (HOST:PORT, tls://HOST:PORT or tcp://HOST:PORT)";
                    return false;
            }
            text = text[(separator + 3)..].TrimEnd('/');
        }
        if (!HostAndPort.TryParse(text, defaultPort, out HostAndPort parsed, out error))
        {
            return false;
        }
        bool portGiven = HostAndPort.TryParse(text, 0, out _, out _); // a default of 0 makes the port required
        address = new ServerAddress(parsed.Host, parsed.Port, scheme, portGiven);
        return true;
    }

    /// <summary>Host and port of the TCP service.</summary>
    public HostAndPort Tcp => new(Host, Port);

    public override string ToString() => Scheme switch
    {
        ServerScheme.Tls => $"tls://{Tcp}",
        ServerScheme.Tcp => $"tcp://{Tcp}",
        _ => Tcp.ToString(),
    };
}
