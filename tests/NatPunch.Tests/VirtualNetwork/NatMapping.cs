using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// One NAT binding (RFC 4787 §3): an internal address:port seen outside as <see cref="External"/>,
/// plus the filtering permissions it has earned by sending (RFC 4787 §5).
/// </summary>
public sealed class NatMapping
{
    // Lookup only (never enumerated for behaviour): when each remote endpoint / address was last
    // sent to (or heard from, when inbound refreshes). Each permission ages on its own, like a
    // conntrack entry per flow.
    private readonly Dictionary<IPEndPoint, TimeSpan> _endpointPermissions = [];
    private readonly Dictionary<IPAddress, TimeSpan> _addressPermissions = [];

    internal NatMapping(IPEndPoint @internal, IPEndPoint external, IPEndPoint? firstRemote, TimeSpan now)
    {
        Internal = @internal;
        External = external;
        FirstRemote = firstRemote;
        Created = LastRefreshed = now;
    }

    public IPEndPoint Internal { get; }

    public IPEndPoint External { get; }

    /// <summary>The destination whose packet created the mapping (for ADM/APDM, part of its identity).</summary>
    public IPEndPoint? FirstRemote { get; }

    public TimeSpan Created { get; }

    /// <summary>Last traffic that refreshed the mapping (RFC 4787 §4.3).</summary>
    public TimeSpan LastRefreshed { get; private set; }

    public bool IsExpired(TimeSpan now, TimeSpan lifetime) => now - LastRefreshed >= lifetime;

    /// <summary>When this mapping dies if nothing refreshes it.</summary>
    public TimeSpan ExpiresAt(TimeSpan lifetime) => LastRefreshed + lifetime;

    /// <summary>Has this mapping sent to <paramref name="remote"/> (or heard from it, with inbound refresh) within the lifetime?</summary>
    public bool HasPermission(IPEndPoint remote, FilteringBehavior filtering, TimeSpan now, TimeSpan lifetime) => filtering switch
    {
        FilteringBehavior.EndpointIndependent => true,
        FilteringBehavior.AddressDependent => _addressPermissions.TryGetValue(remote.Address, out TimeSpan a) && now - a < lifetime,
        _ => _endpointPermissions.TryGetValue(remote, out TimeSpan e) && now - e < lifetime,
    };

    /// <summary>Traffic to or from <paramref name="remote"/> keeps the mapping and that permission alive.</summary>
    internal void Refresh(IPEndPoint remote, TimeSpan now)
    {
        LastRefreshed = now;
        _endpointPermissions[remote] = now;
        _addressPermissions[remote.Address] = now;
    }

    public override string ToString() => $"{Internal} = {External}" + (FirstRemote is null ? "" : $" (for {FirstRemote})");
}
