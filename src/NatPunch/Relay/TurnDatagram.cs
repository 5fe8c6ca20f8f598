using System.Net;

namespace NatPunch.Relay;

/// <summary>Data a peer sent to the relayed address, unwrapped from a Data indication or ChannelData.</summary>
/// <param name="Peer">The peer's address as the relay saw it.</param>
/// <param name="Payload">The bytes the peer sent.</param>
/// <param name="ViaChannel">True when it came as ChannelData, false for a Data indication.</param>
public readonly record struct TurnDatagram(IPEndPoint Peer, ReadOnlyMemory<byte> Payload, bool ViaChannel);
