using NatPunch.Protocol.Turn;

namespace NatPunch.Server.Turn;

/// <summary>
/// Grants whose registration has ended: the relay refuses them (401) and deletes their allocations
/// (<see cref="TurnCore.Expire"/>), although their signature and expiry would still pass. A grant is
/// kept here only until its own expiry, after which the relay refuses it anyway. Thread-safe: the
/// rendezvous loop revokes, the relay checks under its lock.
/// </summary>
public sealed class RevokedGrants
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, DateTimeOffset> _revoked = new(StringComparer.Ordinal);

    /// <summary>Grants revoked and not yet expired (pruned as grants are revoked).</summary>
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
        if (!TurnRestCredentials.TryGetExpiry(username, out DateTimeOffset expiry) || expiry <= now)
        {
            return; // not a grant, or expired already
        }
        lock (_gate)
        {
            _revoked[username] = expiry;
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
