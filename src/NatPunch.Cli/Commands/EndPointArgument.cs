using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Cli.Commands;

/// <summary>Parses the endpoint forms users type: "IP:PORT", "[IPv6]:PORT", a bare IP, or "HOST:PORT".</summary>
internal static class EndPointArgument
{
    /// <summary>An IP endpoint with an optional port (default 3478); false with a message if it isn't one.</summary>
    public static bool TryParseIPEndPoint(string text, out IPEndPoint endPoint, out string error)
    {
        error = string.Empty;
        if (IPAddress.TryParse(text, out IPAddress? bare) && !text.Contains(']'))
        {
            endPoint = new IPEndPoint(bare, StunConstants.DefaultPort);
            return true;
        }
        if (IPEndPoint.TryParse(text, out IPEndPoint? parsed) && parsed is not null)
        {
            endPoint = parsed.Port == 0 && !text.EndsWith(":0", StringComparison.Ordinal)
                ? new IPEndPoint(parsed.Address, StunConstants.DefaultPort) : parsed;
            return true;
        }
        endPoint = null!;
        error = $"'{text}' is not IP:PORT (examples: 0.0.0.0:3478, [::]:3478, 192.0.2.1)";
        return false;
    }
}
