using System.Globalization;
using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>One line of the <see cref="PacketTrace"/>.</summary>
/// <param name="Node">The host, router or segment where it happened.</param>
/// <param name="PacketId">Follows one datagram across hops; 0 for mapping events.</param>
/// <param name="Detail">What a NAT translated to, the mapping, or what the payload looked like.</param>
public sealed record TraceEntry(
    TimeSpan Time,
    TraceKind Kind,
    string Node,
    long PacketId,
    IPEndPoint? Source,
    IPEndPoint? Destination,
    int Size,
    DropReason Reason,
    string? Detail)
{
    public override string ToString()
    {
        string what = Kind == TraceKind.Dropped ? $"dropped:{Reason}" : Kind.ToString();
        string packet = PacketId == 0 ? "" : $" #{PacketId}";
        string path = Source is null ? "" : $" {Source} -> {Destination}";
        string size = Size == 0 ? "" : $" ({Size} B)";
        string detail = Detail is null ? "" : $"  {Detail}";
        return string.Create(CultureInfo.InvariantCulture,
            $"{Time.TotalSeconds,11:F6}s {Node,-12} {what,-20}{packet}{path}{size}{detail}");
    }
}
