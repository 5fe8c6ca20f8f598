using System.Net;

namespace NatPunch.Relay;

/// <summary>
/// A finished TURN request. <see cref="Peer"/> is the peer of a CreatePermission (port 0) or a
/// ChannelBind; <see cref="Error"/> is null on success. <see cref="IsAutomatic"/> marks the core's own refreshes.
/// </summary>
public sealed record TurnOperationResult(TurnOperation Operation, IPEndPoint? Peer, ushort Channel, TurnError? Error, bool IsAutomatic)
{
    /// <summary>True on success.</summary>
    public bool Succeeded => Error is null;
}
