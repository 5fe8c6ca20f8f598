namespace NatPunch.Security;

/// <summary>
/// Which keys a session with one named peer may have: a pinned key (connect), an allow list
/// (listen), or else what the known-peers file remembers of that name (ssh's known_hosts: trust on
/// first use, a changed key refused). Failures name both keys and, for the file, the line to remove.
/// </summary>
internal sealed class PeerKeyPolicy(string peer, PeerKey? pinned, IReadOnlyCollection<PeerKey> allowed, KnownPeers? knownPeers)
{
    private readonly PeerKey? _known = pinned is null && allowed.Count == 0 ? knownPeers?.Lookup(peer) : null;

    /// <summary>The key the initiator expects (IK), if it knows one.</summary>
    public PeerKey? Expected => pinned ?? _known;

    /// <summary>Null if <paramref name="key"/> may be the peer's, else why not.</summary>
    public string? Authorize(PeerKey key)
    {
        if (pinned is not null && !key.Equals(pinned))
        {
            return $"'{peer}' proved the key {key}, but the key pinned for it is {pinned}";
        }
        if (allowed.Count > 0 && !allowed.Contains(key))
        {
            return $"'{peer}' proved the key {key}, which is not among the {allowed.Count} allowed key(s): {string.Join(", ", allowed)}";
        }
        if (_known is not null && !key.Equals(_known))
        {
            return Changed(key);
        }
        return null;
    }

    /// <summary>First use of a name: remember its key (nothing when a pin or allow list decided).</summary>
    public void Record(PeerKey key)
    {
        if (pinned is null && allowed.Count == 0 && _known is null)
        {
            knownPeers?.Remember(peer, key);
        }
    }

    private string Changed(PeerKey now) =>
        $"THE KEY OF '{peer}' HAS CHANGED: {knownPeers!.Path} records {_known} for it, but it proved {now}. "
        + $"Someone may be impersonating it; if the change is expected, delete the line for '{peer}' from that file";
}
