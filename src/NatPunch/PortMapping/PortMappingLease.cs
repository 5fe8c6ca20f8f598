using System.Net;

namespace NatPunch.PortMapping;

/// <summary>
/// A port the gateway opened: traffic to <see cref="External"/> reaches <see cref="InternalPort"/>
/// of this host until <see cref="Expires"/>. <see cref="Lifetime"/> is what the gateway granted
/// (zero: a permanent UPnP lease, removed only on request).
/// </summary>
public sealed record PortMappingLease(
    PortMappingProtocol Protocol, IPEndPoint External, int InternalPort, TimeSpan Lifetime, DateTimeOffset Expires)
{
    /// <summary>Protocol state needed to renew or remove it (the PCP nonce, the UPnP control URL).</summary>
    internal object? State { get; init; }

    /// <summary>
    /// The external address is not public (a private, shared or zero address): the gateway sits behind
    /// another NAT, and the mapping alone does not make this host reachable from the internet.
    /// </summary>
    public bool BehindAnotherNat => !PublicAddress.IsPublic(External.Address);
}
