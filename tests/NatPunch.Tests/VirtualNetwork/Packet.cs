using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A UDP datagram in flight. Immutable: a NAT that rewrites an address makes a new packet with the
/// same <see cref="Id"/>, so the trace can follow one datagram across every hop and translation.
/// </summary>
public sealed record Packet(long Id, IPEndPoint Source, IPEndPoint Destination, byte[] Payload)
{
    /// <summary>IPv4 (20) + UDP (8) headers: counted against bandwidth limits, as on a real wire.</summary>
    public const int HeaderBytes = 28;

    public int WireSize => Payload.Length + HeaderBytes;
}
