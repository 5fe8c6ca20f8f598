using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

namespace NatPunch.Server.Turn;

/// <summary>Outcome of checking a request's long-term credentials (RFC 8489 §9.2.4).</summary>
public enum TurnAuthResult : byte
{
    Ok,
    /// <summary>No MESSAGE-INTEGRITY: 401 with REALM and NONCE.</summary>
    Challenge,
    /// <summary>MESSAGE-INTEGRITY without USERNAME, REALM or NONCE: 400.</summary>
    BadRequest,
    /// <summary>Unknown or expired user, wrong realm, or integrity mismatch: 401 with REALM and NONCE.</summary>
    Unauthorized,
    /// <summary>Credentials good, nonce expired or not ours: 438 with a fresh NONCE.</summary>
    StaleNonce,
}

/// <summary>
/// Long-term credentials (RFC 8489 §9.2) with static users, the TURN REST API secret and the
/// rendezvous' grants (REST credentials under the grant secret). Nonces are
/// stateless: hex(expiry) + HMAC(server key, expiry ‖ client IP), so a nonce works until it expires,
/// only from the address it was given to, and survives nothing but this process.
/// </summary>
public sealed class TurnAuthenticator
{
    private const int NonceMacBytes = 12;

    private readonly TurnOptions _options;
    private readonly byte[] _nonceKey;
    // Precomputed MD5(user:realm:password) of the static users.
    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
    // TURN REST API secrets: the configured one and the one grants are minted with (usually the same).
    private readonly string[] _secrets;
    private readonly RevokedGrants? _revoked;

    /// <summary>Whether <paramref name="username"/> is a grant whose registration ended.</summary>
    public bool IsRevoked(string username) => _revoked is not null && _revoked.IsRevoked(username);

    /// <summary>Whether any grant is revoked (the relay's sweep has work).</summary>
    public bool AnyRevoked => _revoked is not null && _revoked.Any;

    /// <param name="grantSecret">
    /// The secret of the <see cref="TurnGrantIssuer"/> whose grants this relay accepts, besides
    /// <see cref="TurnOptions.Users"/> and <see cref="TurnOptions.Secret"/>.
    /// </param>
    /// <param name="revoked">Grants this relay no longer accepts (their registration ended).</param>
    public TurnAuthenticator(TurnOptions options, byte[]? nonceKey = null, string? grantSecret = null, RevokedGrants? revoked = null)
    {
        _options = options;
        _revoked = revoked;
        _nonceKey = nonceKey ?? RandomNumberGenerator.GetBytes(32);
        foreach ((string user, string password) in options.Users)
        {
            _keys[user] = StunCredentials.LongTermKey(user, options.Realm, password);
        }
        _secrets = new[] { options.Secret, grantSecret }.OfType<string>().Distinct(StringComparer.Ordinal).ToArray();
    }

    public bool Required => !_options.NoAuth;

    public string Realm => _options.Realm;

    /// <summary>A fresh nonce for <paramref name="client"/>, valid for <see cref="TurnOptions.NonceLifetime"/>.</summary>
    public string NewNonce(IPAddress client, DateTimeOffset now)
    {
        long expiry = (now + _options.NonceLifetime).ToUnixTimeSeconds();
        string stamp = expiry.ToString("x10", CultureInfo.InvariantCulture);
        return stamp + Convert.ToHexStringLower(Mac(stamp, client));
    }

    private bool IsNonceValid(string nonce, IPAddress client, DateTimeOffset now)
    {
        if (nonce.Length != 10 + NonceMacBytes * 2
            || !long.TryParse(nonce.AsSpan(0, 10), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long expiry))
        {
            return false;
        }
        Span<byte> given = stackalloc byte[NonceMacBytes];
        if (Convert.FromHexString(nonce.AsSpan(10), given, out _, out int written) != System.Buffers.OperationStatus.Done
            || written != NonceMacBytes)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(given, Mac(nonce[..10], client)) && now.ToUnixTimeSeconds() < expiry;
    }

    private byte[] Mac(string stamp, IPAddress client)
    {
        Span<byte> input = stackalloc byte[10 + 16];
        int length = Encoding.ASCII.GetBytes(stamp, input);
        client.TryWriteBytes(input[length..], out int addressLength);
        return HMACSHA256.HashData(_nonceKey, input[..(length + addressLength)])[..NonceMacBytes];
    }

    /// <summary>
    /// The long-term key of <paramref name="username"/> whose MESSAGE-INTEGRITY verifies
    /// <paramref name="request"/>: a static user's, else one derived from a REST secret while the
    /// username's expiry lies ahead. False for an unknown or expired user or a wrong password.
    /// </summary>
    private bool TryVerify(StunMessage request, string username, DateTimeOffset now, string? usableAfterExpiry, [NotNullWhen(true)] out byte[]? key)
    {
        if (_keys.TryGetValue(username, out key))
        {
            return request.VerifyMessageIntegrity(key);
        }
        if (_secrets.Length > 0 && TurnRestCredentials.TryGetExpiry(username, out DateTimeOffset expiry)
            && (expiry > now || username == usableAfterExpiry) && !IsRevoked(username))
        {
            foreach (string secret in _secrets)
            {
                key = StunCredentials.LongTermKey(username, _options.Realm, TurnRestCredentials.Password(secret, username));
                if (request.VerifyMessageIntegrity(key))
                {
                    return true;
                }
            }
        }
        key = null;
        return false;
    }

    /// <summary>
    /// Checks a request, in the order of RFC 8489 §9.2.4: integrity present, the attributes it
    /// needs, the user, the HMAC, then the nonce. On <see cref="TurnAuthResult.Ok"/> (and on
    /// <see cref="TurnAuthResult.StaleNonce"/>, whose answer is signed) <paramref name="key"/> is set.
    /// </summary>
    public TurnAuthResult Check(StunMessage request, IPAddress client, DateTimeOffset now, out string username, out byte[]? key) =>
        Check(request, client, now, null, out username, out key);

    /// <param name="usableAfterExpiry">
    /// A REST username still good for this request after its expiry (the client's allocation's own):
    /// the grant bounds when an allocation may be made, not how long it lives (its registration's end
    /// revokes it). Null: none.
    /// </param>
    public TurnAuthResult Check(StunMessage request, IPAddress client, DateTimeOffset now, string? usableAfterExpiry, out string username, out byte[]? key)
    {
        username = string.Empty;
        key = null;
        if (request.IntegrityOffset < 0)
        {
            return TurnAuthResult.Challenge;
        }
        if (!request.TryGetString(StunAttributeType.Username, out username)
            || !request.TryGetString(StunAttributeType.Realm, out string realm)
            || !request.TryGetString(StunAttributeType.Nonce, out string nonce))
        {
            return TurnAuthResult.BadRequest;
        }
        if (realm != _options.Realm || !TryVerify(request, username, now, usableAfterExpiry, out byte[]? userKey))
        {
            return TurnAuthResult.Unauthorized;
        }
        key = userKey;
        return IsNonceValid(nonce, client, now) ? TurnAuthResult.Ok : TurnAuthResult.StaleNonce;
    }

    /// <summary>The expiry stamp inside a nonce, for tests and logs.</summary>
    public static bool TryReadNonceExpiry(string nonce, out DateTimeOffset expiry)
    {
        expiry = default;
        // Ten hex digits reach past the year 9999, which DateTimeOffset cannot hold (found by fuzzing).
        if (nonce.Length < 10 || !long.TryParse(nonce.AsSpan(0, 10), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }
        expiry = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }
}
