namespace NatPunch.Net;

/// <summary>How TCP connections to the NatPunch server (the rendezvous, the relay over TCP or TLS) are made.</summary>
public sealed record ServerConnectionOptions
{
    public static ServerConnectionOptions Default { get; } = new();

    /// <summary>An HTTP proxy to go through with CONNECT; null: connect directly.</summary>
    public HttpProxy? Proxy { get; init; }

    /// <summary>
    /// The SHA-256 of the server's TLS certificate (its DER bytes, as <c>openssl x509 -fingerprint -sha256</c>
    /// prints it): that certificate is accepted, self-signed or not, and no other. Null: the system's trust store decides.
    /// </summary>
    public byte[]? PinnedCertificateSha256 { get; init; }

    /// <summary>The proxy to reach <paramref name="host"/> through: <see cref="Proxy"/>, unless its NO_PROXY list names the host.</summary>
    public HttpProxy? ProxyFor(string host) => Proxy is { } proxy && !proxy.Bypasses(host) ? proxy : null;

    /// <summary>Parses a pin given as hex, with or without colons; never throws.</summary>
    public static bool TryParsePin(string text, out byte[] pin, out string error)
    {
        string hex = text.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal).Trim();
        pin = [];
        error = "";
        try
        {
            pin = Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
        }
        if (pin.Length != 32)
        {
            error = $"'{text}' is not a SHA-256 fingerprint (64 hex digits, colons allowed)";
            return false;
        }
        return true;
    }
}
