using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NatPunch.Cli.Commands;
using NatPunch.Protocol.Stun;

namespace NatPunch.Cli.Bench;

/// <summary>Turns "IP:PORT", "[IPv6]:PORT" or "HOST:PORT" into one endpoint, resolving the name (IPv4 first).</summary>
internal static class HostEndPoint
{
    public static bool TryResolve(string text, out IPEndPoint endPoint, out string error)
    {
        if (EndPointArgument.TryParseIPEndPoint(text, out endPoint, out error))
        {
            return true;
        }
        int colon = text.LastIndexOf(':');
        string host = colon > 0 ? text[..colon] : text;
        int port = StunConstants.DefaultPort;
        if (colon > 0 && !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port)
            || port is < 1 or > 65535)
        {
            error = $"'{text}' is not HOST:PORT (examples: 127.0.0.1:3478, stun.example.org:3478)";
            return false;
        }
        try
        {
            IPAddress[] addresses = Dns.GetHostAddresses(host);
            IPAddress? chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
            if (chosen is null)
            {
                error = $"'{host}' has no address";
                return false;
            }
            endPoint = new IPEndPoint(chosen, port);
            error = string.Empty;
            return true;
        }
        catch (SocketException e)
        {
            error = $"cannot resolve '{host}': {e.Message}";
            return false;
        }
    }
}
