using System.Net;

namespace NatPunch.Relay;

/// <summary>What the server granted (RFC 8656 §7.3): the relayed address, the client's address as the server saw it, and the lifetime.</summary>
public sealed record RelayAllocation(IPEndPoint RelayedAddress, IPEndPoint? MappedAddress, TimeSpan Lifetime);
