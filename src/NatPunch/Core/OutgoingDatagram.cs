using System.Net;

namespace NatPunch.Core;

/// <summary>A datagram a core wants sent from its socket to <paramref name="To"/>.</summary>
public readonly record struct OutgoingDatagram(IPEndPoint To, ReadOnlyMemory<byte> Payload);
