using NatPunch.Protocol.Turn;

namespace NatPunch.Relay;

/// <summary>Long-term credentials for a TURN server (RFC 8489 §9.2): a username and its password.</summary>
/// <param name="Username">The USERNAME sent to the server.</param>
/// <param name="Password">The password; the key is MD5(username ":" realm ":" password), computed once the realm is known.</param>
public sealed record TurnCredentials(string Username, string Password)
{
    /// <summary>
    /// Credentials derived from a TURN REST API shared secret (coturn's <c>--static-auth-secret</c>,
    /// our <c>--turn-secret</c>): username <c>EXPIRY[:NAME]</c>, password base64(HMAC-SHA1(secret, username)).
    /// </summary>
    public static TurnCredentials FromSharedSecret(string secret, DateTimeOffset expiry, string? name = null)
    {
        string username = TurnRestCredentials.Username(expiry, name);
        return new TurnCredentials(username, TurnRestCredentials.Password(secret, username));
    }

    /// <summary>Hides the password.</summary>
    public override string ToString() => $"TurnCredentials {{ Username = {Username} }}";
}
