using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>A datagram as a socket received it.</summary>
/// <param name="To">The address it was sent to (matters for sockets bound to the wildcard address).</param>
public sealed record ReceivedDatagram(TimeSpan Time, IPEndPoint From, IPEndPoint To, byte[] Payload, long PacketId);
