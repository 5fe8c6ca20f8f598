using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A node's attachment to a segment: its addresses there, and the conditions of each direction.
/// <see cref="Egress"/> is node → segment and <see cref="Ingress"/> segment → node, so a host's
/// uplink and downlink (or a router's WAN side) can differ. A packet between two nodes of one
/// segment crosses the sender's egress and the receiver's ingress.
/// </summary>
public sealed class Link
{
    // When each direction's transmitter is free again (only bandwidth-limited directions use it).
    private TimeSpan _egressBusyUntil;
    private TimeSpan _ingressBusyUntil;

    internal Link(INetworkNode node, NetworkSegment segment, IReadOnlyList<IPAddress> addresses, LinkConditions conditions)
    {
        Node = node;
        Segment = segment;
        Addresses = addresses;
        Egress = Ingress = conditions;
    }

    public INetworkNode Node { get; }

    public NetworkSegment Segment { get; }

    /// <summary>The node's addresses on the segment (a LAN router's gateway address; a NAT's public addresses).</summary>
    public IReadOnlyList<IPAddress> Addresses { get; }

    /// <summary>Node → segment.</summary>
    public LinkConditions Egress { get; set; }

    /// <summary>Segment → node.</summary>
    public LinkConditions Ingress { get; set; }

    /// <summary>Sets both directions (the one-way latency is then half the round trip over this link).</summary>
    public void SetConditions(LinkConditions conditions) => Egress = Ingress = conditions;

    /// <summary>The node sends a packet onto the segment.</summary>
    internal void Transmit(Packet packet) =>
        Carry(packet, Egress, ref _egressBusyUntil, "egress", p => Segment.Route(p, this));

    /// <summary>The segment hands a packet to the node.</summary>
    internal void Deliver(Packet packet) =>
        Carry(packet, Ingress, ref _ingressBusyUntil, "ingress", p => Node.Receive(p, this));

    private void Carry(Packet packet, LinkConditions conditions, ref TimeSpan busyUntil, string direction, Action<Packet> arrive)
    {
        Simulator simulator = Segment.Simulator;
        TimeSpan now = simulator.Now;
        // Random numbers are drawn only for conditions that are set, so adding a perfect link
        // somewhere does not change what a lossy link elsewhere does with the same seed.
        if (conditions.LossRate > 0 && simulator.Random.NextDouble() < conditions.LossRate)
        {
            simulator.Record(TraceKind.Dropped, Node.Name, packet, DropReason.Loss, direction);
            return;
        }
        TimeSpan departure = now;
        if (conditions.BandwidthBitsPerSecond is long bitsPerSecond)
        {
            TimeSpan start = busyUntil > now ? busyUntil : now;
            long queuedBytes = (start - now).Ticks * bitsPerSecond / 8 / TimeSpan.TicksPerSecond;
            if (queuedBytes + packet.WireSize > conditions.QueueLimitBytes)
            {
                simulator.Record(TraceKind.Dropped, Node.Name, packet, DropReason.QueueFull, direction);
                return;
            }
            busyUntil = start + TimeSpan.FromTicks(packet.WireSize * 8L * TimeSpan.TicksPerSecond / bitsPerSecond);
            departure = busyUntil;
        }
        simulator.ScheduleAt(departure + Delay(conditions, simulator.Random), () => arrive(packet));
        if (conditions.DuplicationRate > 0 && simulator.Random.NextDouble() < conditions.DuplicationRate)
        {
            simulator.Record(TraceKind.Duplicated, Node.Name, packet, detail: direction);
            simulator.ScheduleAt(departure + Delay(conditions, simulator.Random), () => arrive(packet));
        }
    }

    private static TimeSpan Delay(LinkConditions conditions, Random random) =>
        conditions.Jitter > TimeSpan.Zero
            ? conditions.Latency + TimeSpan.FromTicks((long)(random.NextDouble() * conditions.Jitter.Ticks))
            : conditions.Latency;

    public override string ToString() => $"{Node.Name} on {Segment.Name} ({string.Join(", ", Addresses)})";
}
