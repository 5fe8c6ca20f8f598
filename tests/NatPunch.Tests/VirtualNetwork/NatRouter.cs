using System.Globalization;
using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A NAT (or a plain router, or a firewall) between an outer segment and a LAN of its own, behaving
/// as its <see cref="NatBehavior"/> says, in the terms of RFC 4787. Routers nest: a home NAT can sit
/// on the LAN of a carrier-grade NAT (<see cref="AddNatRouter"/>).
/// </summary>
/// <remarks>
/// Each mapping has an expiry check scheduled for when it would die if nothing refreshed it; the
/// check re-arms itself if traffic came meanwhile. So the trace shows expiry at the right moment and
/// <see cref="Mappings"/> is current, at the cost of one pending event per live mapping (which
/// <see cref="Simulator.RunUntilIdle"/> waits for). Packets also sweep first, so a packet arriving at
/// the very instant of expiry finds the mapping gone whatever the event order.
/// </remarks>
public sealed class NatRouter : INetworkNode
{
    public const string DefaultLan = "192.168.1.0/24";

    // Live mappings in creation order; this list, not the dictionaries, is what gets enumerated, so
    // expiry happens in the same order on every run.
    private readonly List<(MappingKey Key, NatMapping Mapping)> _mappings = [];
    private readonly Dictionary<MappingKey, NatMapping> _byKey = [];
    private readonly Dictionary<IPEndPoint, NatMapping> _byExternal = [];
    // RFC 4787 §4.1 paired pooling: internal IP → the public IP all its mappings use.
    private readonly Dictionary<IPAddress, IPAddress> _pairedAddress = [];
    private readonly NatPortAllocator _ports;
    private int _nextPairedIndex;

    internal NatRouter(NetworkSegment outer, string name, NatBehavior behavior, IReadOnlyList<IPAddress> publicAddresses,
        string lan, LinkConditions? link)
    {
        if (publicAddresses.Count == 0)
        {
            throw new ArgumentException("A router needs at least one public address.", nameof(publicAddresses));
        }
        Name = name;
        Behavior = behavior;
        Simulator = outer.Simulator;
        _ports = new NatPortAllocator(behavior, Simulator.Random);
        Outside = outer.Attach(this, publicAddresses, link);
        // Behind a plain router hosts take public addresses from the outer segment; behind a NAT, private ones.
        AddressPool pool = IsTranslating ? new AddressPool(lan, reserveGateway: true) : outer.Pool;
        Lan = new NetworkSegment(Simulator, $"{name}-lan", pool, this);
        Inside = Lan.Attach(this, IsTranslating ? [pool.Gateway!] : [], LinkConditions.Perfect);
        Lan.Gateway = Inside;
    }

    public string Name { get; }

    public NatBehavior Behavior { get; }

    public Simulator Simulator { get; }

    /// <summary>The WAN side, on the outer segment: set its conditions for the access line's latency and loss.</summary>
    public Link Outside { get; }

    /// <summary>The LAN side (perfect by default; LAN delay belongs on the hosts' links).</summary>
    public Link Inside { get; }

    /// <summary>The segment behind the router.</summary>
    public NetworkSegment Lan { get; }

    public IPAddress PublicAddress => Outside.Addresses[0];

    public IReadOnlyList<IPAddress> PublicAddresses => Outside.Addresses;

    /// <summary>False for <see cref="MappingBehavior.None"/>: a router or firewall that leaves addresses alone.</summary>
    public bool IsTranslating => Behavior.Mapping != MappingBehavior.None;

    /// <summary>What this router translated, created, expired and dropped.</summary>
    public TrafficCounters Counters { get; } = new();

    /// <summary>Live mappings, oldest first.</summary>
    public IReadOnlyList<NatMapping> Mappings => _mappings.Select(m => m.Mapping).ToList();

    /// <summary>A host on this router's LAN (address given, or the next free one).</summary>
    public VirtualHost AddHost(string? name = null, IPAddress? address = null, LinkConditions? link = null) =>
        Lan.AddHost(name, address, link);

    /// <summary>A NAT on this router's LAN, e.g. a home router behind a carrier-grade NAT.</summary>
    public NatRouter AddNatRouter(NatBehavior behavior, string? name = null, IReadOnlyList<IPAddress>? publicAddresses = null,
        string lan = DefaultLan, LinkConditions? link = null) =>
        Lan.AddNatRouter(behavior, name, publicAddresses, lan, link);

    /// <summary>Forgets every mapping at once, as a NAT reboot does.</summary>
    public void FlushMappings()
    {
        foreach ((MappingKey _, NatMapping mapping) in _mappings)
        {
            Simulator.Record(TraceKind.MappingExpired, Name, null, detail: $"{mapping} flushed", nodeCounters: Counters);
            if (IsTranslating)
            {
                _ports.Release(mapping.External);
            }
        }
        _mappings.Clear();
        _byKey.Clear();
        _byExternal.Clear();
    }

    /// <summary>
    /// A firewall rule on top of the NAT's own behaviour: packets from outside it matches are dropped
    /// (<see cref="DropReason.FirewallRule"/>), for a test that opens or closes one path while others work.
    /// </summary>
    public Func<Packet, bool>? DropInbound { get; set; }

    public void Receive(Packet packet, Link link)
    {
        if (link == Inside)
        {
            Outbound(packet);
        }
        else if (DropInbound?.Invoke(packet) == true)
        {
            Drop(packet, DropReason.FirewallRule);
        }
        else
        {
            Inbound(packet);
        }
    }

    /// <summary>A host on this LAN took an address: behind a plain router, the outer segments must route it here.</summary>
    internal void AdvertiseLanAddress(IPAddress address)
    {
        if (!IsTranslating)
        {
            Outside.Segment.AddRoute(address, Outside);
            Outside.Segment.Router?.AdvertiseLanAddress(address);
        }
    }

    /// <summary>LAN → outside.</summary>
    private void Outbound(Packet packet)
    {
        TimeSpan now = Simulator.Now;
        ExpireMappings(now);
        if (Behavior.BlocksUdp)
        {
            Drop(packet, DropReason.UdpBlocked);
            return;
        }
        IPAddress destination = packet.Destination.Address;
        if (Inside.Addresses.Contains(destination) || (!IsTranslating && Outside.Addresses.Contains(destination)))
        {
            Drop(packet, DropReason.PortUnreachable, "nothing listens on the router itself");
            return;
        }
        bool hairpin = IsTranslating && Outside.Addresses.Contains(destination);
        if (hairpin && !Behavior.Hairpinning)
        {
            Drop(packet, DropReason.HairpinDisabled);
            return;
        }
        if (!IsTranslating && Behavior.Filtering == FilteringBehavior.EndpointIndependent)
        {
            Outside.Transmit(packet); // a plain router: nothing to remember
            return;
        }
        if (!TryGetOrCreateMapping(packet, now, out NatMapping? mapping))
        {
            Drop(packet, DropReason.PortsExhausted);
            return;
        }
        // RFC 4787 REQ-6: outbound traffic refreshes the mapping; it also opens the filter to this destination (§5).
        mapping.Refresh(packet.Destination, now);
        if (!IsTranslating)
        {
            Outside.Transmit(packet);
            return;
        }
        Packet translated = packet with { Source = mapping.External };
        if (hairpin)
        {
            // RFC 4787 §6 / REQ-9: the hairpinned packet carries the sender's external address, and
            // goes through the receiving mapping's filter like any inbound packet.
            Record(TraceKind.Hairpinned, translated, $"from {packet.Source}");
            Inbound(translated);
            return;
        }
        Record(TraceKind.TranslatedOutbound, translated, $"from {packet.Source}");
        Outside.Transmit(translated);
    }

    /// <summary>Outside (or hairpin) → LAN.</summary>
    private void Inbound(Packet packet)
    {
        TimeSpan now = Simulator.Now;
        ExpireMappings(now);
        if (Behavior.BlocksUdp)
        {
            Drop(packet, DropReason.UdpBlocked);
            return;
        }
        bool open = !IsTranslating && Behavior.Filtering == FilteringBehavior.EndpointIndependent;
        if (open)
        {
            Inside.Transmit(packet);
            return;
        }
        if (!_byExternal.TryGetValue(packet.Destination, out NatMapping? mapping))
        {
            // A firewall has no mappings, only state: unsolicited traffic is filtered, not unroutable.
            Drop(packet, IsTranslating ? DropReason.NoMapping : DropReason.Filtered);
            return;
        }
        // RFC 4787 §5: EIF lets anyone in, ADF only addresses this mapping has sent to, APDF only address:port pairs.
        if (!mapping.HasPermission(packet.Source, Behavior.Filtering, now, Behavior.MappingLifetime))
        {
            Drop(packet, DropReason.Filtered, $"{mapping} has not sent to {Describe(packet.Source)}");
            return;
        }
        if (Behavior.InboundRefreshesMapping)
        {
            mapping.Refresh(packet.Source, now); // RFC 4787 §4.3: allowed, not required
        }
        if (!IsTranslating)
        {
            Inside.Transmit(packet);
            return;
        }
        Packet translated = packet with { Destination = mapping.Internal };
        Record(TraceKind.TranslatedInbound, translated, $"to {packet.Destination}");
        Inside.Transmit(translated);
    }

    private bool TryGetOrCreateMapping(Packet packet, TimeSpan now, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NatMapping? mapping)
    {
        // RFC 4787 §4.1: the mapping behaviour decides which destinations share a mapping.
        MappingKey key = Behavior.Mapping switch
        {
            MappingBehavior.AddressDependent => new(packet.Source, packet.Destination.Address, 0),
            MappingBehavior.AddressAndPortDependent => new(packet.Source, packet.Destination.Address, packet.Destination.Port),
            _ => new(packet.Source, null, 0),
        };
        if (_byKey.TryGetValue(key, out mapping))
        {
            return true;
        }
        IPEndPoint external;
        if (IsTranslating)
        {
            IPAddress address = ChoosePublicAddress(packet.Source.Address);
            if (!_ports.TryAllocate(address, packet.Source.Port, out int port))
            {
                return false;
            }
            external = new IPEndPoint(address, port);
        }
        else
        {
            external = packet.Source; // firewall state: no translation
        }
        bool dependent = Behavior.Mapping is MappingBehavior.AddressDependent or MappingBehavior.AddressAndPortDependent;
        mapping = new NatMapping(packet.Source, external, dependent ? packet.Destination : null, now);
        _mappings.Add((key, mapping));
        _byKey.Add(key, mapping);
        _byExternal.Add(external, mapping);
        Simulator.Record(TraceKind.MappingCreated, Name, null, detail: mapping.ToString(), nodeCounters: Counters);
        ScheduleExpiryCheck(mapping);
        return true;
    }

    private void ScheduleExpiryCheck(NatMapping mapping) =>
        Simulator.ScheduleAt(mapping.ExpiresAt(Behavior.MappingLifetime), () =>
        {
            if (!_byExternal.TryGetValue(mapping.External, out NatMapping? live) || live != mapping)
            {
                return; // already swept or flushed
            }
            if (mapping.IsExpired(Simulator.Now, Behavior.MappingLifetime))
            {
                ExpireMappings(Simulator.Now);
            }
            else
            {
                ScheduleExpiryCheck(mapping); // refreshed meanwhile
            }
        });

    private IPAddress ChoosePublicAddress(IPAddress internalAddress)
    {
        IReadOnlyList<IPAddress> addresses = Outside.Addresses;
        if (addresses.Count == 1)
        {
            return addresses[0];
        }
        if (Behavior.AddressPooling == AddressPooling.Arbitrary)
        {
            return addresses[Simulator.Random.Next(addresses.Count)];
        }
        if (!_pairedAddress.TryGetValue(internalAddress, out IPAddress? paired))
        {
            paired = addresses[_nextPairedIndex++ % addresses.Count];
            _pairedAddress.Add(internalAddress, paired);
        }
        return paired;
    }

    /// <summary>RFC 4787 §4.3: a mapping idle for the whole lifetime is gone, and its port is free again.</summary>
    private void ExpireMappings(TimeSpan now)
    {
        TimeSpan lifetime = Behavior.MappingLifetime;
        for (int i = 0; i < _mappings.Count;)
        {
            (MappingKey key, NatMapping mapping) = _mappings[i];
            if (!mapping.IsExpired(now, lifetime))
            {
                i++;
                continue;
            }
            _mappings.RemoveAt(i);
            _byKey.Remove(key);
            _byExternal.Remove(mapping.External);
            if (IsTranslating)
            {
                _ports.Release(mapping.External);
            }
            Simulator.Record(TraceKind.MappingExpired, Name, null,
                detail: string.Create(CultureInfo.InvariantCulture, $"{mapping} idle since {mapping.LastRefreshed.TotalSeconds:F3}s"),
                nodeCounters: Counters);
        }
    }

    private string Describe(IPEndPoint source) =>
        Behavior.Filtering == FilteringBehavior.AddressDependent ? source.Address.ToString() : source.ToString();

    private void Record(TraceKind kind, Packet packet, string? detail) =>
        Simulator.Record(kind, Name, packet, detail: detail, nodeCounters: Counters);

    private void Drop(Packet packet, DropReason reason, string? detail = null) =>
        Simulator.Record(TraceKind.Dropped, Name, packet, reason, detail, Counters);

    public override string ToString() => $"{Name} ({Behavior}, {string.Join(", ", PublicAddresses)})";

    private readonly record struct MappingKey(IPEndPoint Internal, IPAddress? RemoteAddress, int RemotePort);
}
