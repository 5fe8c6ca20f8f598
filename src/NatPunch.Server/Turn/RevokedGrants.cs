using NatPunch.Protocol.Turn;

namespace NatPunch.Server.Turn;

/// <summary>
/// Grants whose registration has ended: the relay refuses them (401) and deletes their allocations
/// (<see cref="TurnCore.Expire"/>), although their signature (and, for an allocation's own requests,
/// an expiry that has passed) would still pass. A grant is kept here until its own expiry, and at
/// least <see cref="Retention"/>: long enough for the relay's sweep (every second) to delete what was
/// allocated with it, after which an expired grant can make nothing new. Thread-safe: the rendezvous
/// loop revokes, the relay checks under its lock.
/// </summary>
public sealed class RevokedGrants
{
    /// <summary>How long an expired grant stays revoked: many sweeps of the relay.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, DateTimeOffset> _revoked = new(StringComparer.Ordinal);

    /// <summary>Grants revoked and still kept (pruned as grants are revoked).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _revoked.Count;
            }
        }
    }

    public void Revoke(string username, DateTimeOffset now)
    {
        if (!TurnRestCredentials.TryGetExpiry(username, out DateTimeOffset expiry))
        {
            return; // not a grant
        }
        lock (_gate)
        {
            _revoked[username] = expiry > now + Retention ? expiry : now + Retention;
            if (_revoked.Count % 1024 == 0)
            {
                foreach (string expired in _revoked.Where(e => e.Value <= now).Select(e => e.Key).ToList())
                {
                    _revoked.Remove(expired);
                }
            }
        }
    }

    public bool IsRevoked(string username)
    {
        lock (_gate)
        {
            return _revoked.Count > 0 && _revoked.ContainsKey(username);
        }
    }

    /// <summary>Whether any grant is revoked now: lets the relay skip its sweep when none is.</summary>
    public bool Any
    {
        get
        {
            lock (_gate)
            {
                return _revoked.Count > 0;
            }
        }
    }
}
