using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// One addressing realm: the internet, or the LAN behind a NAT router. Delivers a packet to the
/// node that owns its destination address; anything else goes to the gateway (the router that
/// owns this LAN), and on the internet, which has no gateway, it is dropped. Private address
/// ranges can repeat on different LANs, as they do in real life.
/// </summary>
public sealed class NetworkSegment
{
    // Destination address → the link that receives it. Lookup only: never enumerated, so that hash
    // order can't leak into the run.
    private readonly Dictionary<IPAddress, Link> _routes = [];
    private readonly List<Link> _links = [];
    private readonly AddressPool _pool;
    private int _unnamedHosts;

    internal NetworkSegment(Simulator simulator, string name, AddressPool pool, NatRouter? router)
    {
        Simulator = simulator;
        Name = name;
        _pool = pool;
        Router = router;
    }

    public Simulator Simulator { get; }

    public string Name { get; }

    /// <summary>The router whose LAN this is; null for the internet.</summary>
    public NatRouter? Router { get; }

    /// <summary>Links in the order they were attached.</summary>
    public IReadOnlyList<Link> Links => _links;

    /// <summary>Where packets for addresses not on this segment go: the owning router's inside link.</summary>
    internal Link? Gateway { get; set; }

    /// <summary>A host with one address (given, or the next free one of this segment's range).</summary>
    public VirtualHost AddHost(string? name = null, IPAddress? address = null, LinkConditions? link = null) =>
        new(this, name ?? $"host{++_unnamedHosts}", [address ?? NextFreeAddress()], link);

    /// <summary>A host with several addresses on this segment (for a multi-homed server).</summary>
    public VirtualHost AddHost(string name, IReadOnlyList<IPAddress> addresses, LinkConditions? link = null) =>
        new(this, name, addresses, link);

    /// <summary>
    /// A NAT router attached here, with public addresses on this segment (given, or the next free
    /// one) and a LAN of its own numbered from <paramref name="lan"/> (the router takes the first address).
    /// </summary>
    public NatRouter AddNatRouter(NatBehavior behavior, string? name = null, IReadOnlyList<IPAddress>? publicAddresses = null,
        string lan = NatRouter.DefaultLan, LinkConditions? link = null) =>
        new(this, name ?? $"nat{Simulator.Internet.CountRouters() + 1}", behavior, publicAddresses ?? [NextFreeAddress()], lan, link);

    /// <summary>The next address of this segment's range that no node holds yet.</summary>
    public IPAddress NextFreeAddress(IPAddress? except = null) =>
        _pool.Next(a => a.Equals(except) || IsTaken(a));

    /// <summary>The gateway address hosts on this LAN would use; null on the internet and behind a non-translating router.</summary>
    internal IPAddress? GatewayAddress => _pool.Gateway;

    internal AddressPool Pool => _pool;

    internal bool IsTaken(IPAddress address) =>
        _routes.ContainsKey(address) || (Router is { IsTranslating: false } router && router.Outside.Segment.IsTaken(address));

    /// <summary>Connects <paramref name="node"/> with the given addresses; each must be free here.</summary>
    internal Link Attach(INetworkNode node, IReadOnlyList<IPAddress> addresses, LinkConditions? conditions)
    {
        foreach (IPAddress address in addresses)
        {
            if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                throw new ArgumentException($"{address}: the virtual network is IPv4 only.");
            }
            if (IsTaken(address))
            {
                throw new InvalidOperationException($"{address} is already in use on {Name}.");
            }
        }
        var link = new Link(node, this, addresses, conditions ?? Simulator.DefaultLink);
        foreach (IPAddress address in addresses)
        {
            AddRoute(address, link);
            // Behind a plain router the host's address is public: the outer segment must route it to the router.
            Router?.AdvertiseLanAddress(address);
        }
        _links.Add(link);
        return link;
    }

    internal void AddRoute(IPAddress address, Link link)
    {
        if (!_routes.TryAdd(address, link))
        {
            throw new InvalidOperationException($"{address} is already in use on {Name}.");
        }
    }

    /// <summary>A packet arrived on the segment from <paramref name="from"/>: forward it to its next node.</summary>
    internal void Route(Packet packet, Link from)
    {
        if (_routes.TryGetValue(packet.Destination.Address, out Link? to) && to != from)
        {
            to.Deliver(packet);
        }
        else if (Gateway is not null && from != Gateway)
        {
            Gateway.Deliver(packet);
        }
        else
        {
            Simulator.Record(TraceKind.Dropped, Name, packet, DropReason.NoRoute);
        }
    }

    private int CountRouters() => _links.Count(l => l.Node is NatRouter) +
        _links.Where(l => l.Node is NatRouter).Sum(l => ((NatRouter)l.Node).Lan.CountRouters());

    public override string ToString() => $"{Name} ({_pool.Prefix}, {_links.Count} links)";
}
