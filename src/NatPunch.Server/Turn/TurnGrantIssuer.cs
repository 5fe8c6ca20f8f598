using System.Security.Cryptography;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Turn;

namespace NatPunch.Server.Turn;

/// <summary>
/// Mints the short-lived TURN credentials (<see cref="TurnGrant"/>) that the rendezvous hands to a
/// peer in <c>registered</c>, so that it can use this server's relay with no configuration. They
/// follow the TURN REST API scheme (<see cref="TurnRestCredentials"/>): username <c>EXPIRY:NAME</c>,
/// password base64(HMAC-SHA1(secret, username)), so the relay checks them without any state.
/// </summary>
public sealed class TurnGrantIssuer
{
    /// <summary>Longest NAME part; the password covers the whole username, so the name is only informational.</summary>
    private const int MaxNameLength = 128;

    private readonly TimeProvider _time;

    /// <param name="secret">The REST secret; the relay's <see cref="TurnAuthenticator"/> must accept it.</param>
    /// <param name="lifetime">How long a grant is valid; at least one second.</param>
    public TurnGrantIssuer(string secret, TimeSpan lifetime, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        Secret = secret;
        Lifetime = TimeSpan.FromSeconds(Math.Clamp(Math.Floor(lifetime.TotalSeconds), 1, int.MaxValue));
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// The issuer for a relay with <paramref name="options"/>: its <see cref="TurnOptions.Secret"/>
    /// when one is configured (so grants can be checked with it elsewhere too), else a random
    /// 32-byte secret that lives as long as this process.
    /// </summary>
    public static TurnGrantIssuer ForRelay(TurnOptions options, TimeProvider? timeProvider = null) =>
        new(options.Secret ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), options.GrantLifetime, timeProvider);

    /// <summary>Kept internal: with it anyone could mint credentials for the relay.</summary>
    internal string Secret { get; }

    /// <summary>How long each grant is valid (whole seconds).</summary>
    public TimeSpan Lifetime { get; }

    /// <summary>Grants whose registration ended: the relay refuses them and deletes their allocations.</summary>
    public RevokedGrants Revoked { get; } = new();

    /// <summary>The issuer's clock's time.</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>A grant for the peer registered as <paramref name="name"/>, valid from now.</summary>
    public TurnGrant Issue(string name) => Issue(name, _time.GetUtcNow());

    /// <summary>A grant for <paramref name="name"/> valid for <see cref="Lifetime"/> from <paramref name="now"/>.</summary>
    public TurnGrant Issue(string name, DateTimeOffset now)
    {
        string username = TurnRestCredentials.Username(now + Lifetime, UsernamePart(name));
        return new TurnGrant(username, TurnRestCredentials.Password(Secret, username), (int)Lifetime.TotalSeconds);
    }

    /// <summary>
    /// The NAME of <c>EXPIRY:NAME</c>: ':' would make the username ambiguous to parsers that split
    /// on the last separator, so it becomes '_'; very long names are cut.
    /// </summary>
    internal static string UsernamePart(string name)
    {
        string part = name.Replace(TurnRestCredentials.DefaultSeparator, '_');
        return part.Length <= MaxNameLength ? part : part[..MaxNameLength];
    }
}
