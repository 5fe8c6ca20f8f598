using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace NatPunch.Protocol.Turn;

/// <summary>
/// The "TURN REST API" shared-secret scheme (draft-uberti-behave-turn-rest-00, as coturn's
/// <c>--use-auth-secret</c> implements it): the username is "EXPIRY:NAME" (EXPIRY in Unix seconds,
/// NAME optional) and the password is base64(HMAC-SHA1(secret, username)).
/// </summary>
public static class TurnRestCredentials
{
    public const char DefaultSeparator = ':';

    /// <summary>The password that goes with <paramref name="username"/>.</summary>
    public static string Password(string secret, string username) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username)));

    /// <summary>A username valid until <paramref name="expiry"/>.</summary>
    public static string Username(DateTimeOffset expiry, string? name = null) =>
        name is null ? expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)
            : $"{expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}{DefaultSeparator}{name}";

    /// <summary>Reads the expiry from "EXPIRY" or "EXPIRY:NAME"; false when there is none.</summary>
    public static bool TryGetExpiry(string username, out DateTimeOffset expiry)
    {
        expiry = default;
        int separator = username.IndexOf(DefaultSeparator);
        ReadOnlySpan<char> stamp = separator < 0 ? username : username.AsSpan(0, separator);
        if (stamp.IsEmpty || !long.TryParse(stamp, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }
        expiry = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }
}
