using System.Globalization;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Tests.VirtualNetwork;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// A rendezvous TCP connection between a peer's host and the server host of a <see cref="Simulator"/>,
/// modelled as reliable, in-order message delivery. Each message takes the sum of the latencies (and
/// jitter draws) of the links its packets would cross, and never overtakes an earlier one. NATs are
/// not consulted: an outbound TCP connection always passes them, and every message is a reply on it.
/// </summary>
/// <remarks>
/// Not modelled: the handshake (the connection is open when the first message arrives), segment loss
/// and retransmission (a lost segment would cost real TCP at least one RTO, 200 ms on Linux), Nagle.
/// Messages go through <see cref="RendezvousCodec"/> both ways, so the wire format is exercised too.
/// </remarks>
internal sealed class SimulatedTcpConnection
{
    private readonly Simulator _simulator;
    private readonly IReadOnlyList<Hop> _toServer;
    private readonly IReadOnlyList<Hop> _toClient;
    private readonly List<string>? _log;
    private TimeSpan _lastArrivalAtServer;
    private TimeSpan _lastArrivalAtClient;

    public SimulatedTcpConnection(Simulator simulator, long id, string clientName, VirtualHost client, VirtualHost server, List<string>? log)
    {
        _simulator = simulator;
        Id = id;
        ClientName = clientName;
        _toServer = Path(client, server);
        _toClient = Path(server, client);
        _log = log;
    }

    public long Id { get; }

    public string ClientName { get; }

    public bool IsClosed { get; private set; }

    /// <summary>Where messages for the client go.</summary>
    public Action<RendezvousMessage>? ClientReceiver { get; set; }

    /// <summary>Where messages for the server go.</summary>
    public Action<SimulatedTcpConnection, RendezvousMessage>? ServerReceiver { get; set; }

    /// <summary>The configured one-way latency client → server (jitter not included).</summary>
    public TimeSpan LatencyToServer => _toServer.Aggregate(TimeSpan.Zero, (sum, hop) => sum + hop.Conditions.Latency);

    /// <summary>The configured one-way latency server → client (jitter not included).</summary>
    public TimeSpan LatencyToClient => _toClient.Aggregate(TimeSpan.Zero, (sum, hop) => sum + hop.Conditions.Latency);

    public void SendToServer(RendezvousMessage message) =>
        Carry(message, _toServer, ref _lastArrivalAtServer, "->server", m => ServerReceiver?.Invoke(this, m));

    public void SendToClient(RendezvousMessage message) =>
        Carry(message, _toClient, ref _lastArrivalAtClient, "->" + ClientName, m => ClientReceiver?.Invoke(m));

    /// <summary>The server closed the connection: nothing is delivered any more.</summary>
    public void Close() => IsClosed = true;

    private void Carry(RendezvousMessage message, IReadOnlyList<Hop> path, ref TimeSpan lastArrival, string direction, Action<RendezvousMessage> deliver)
    {
        if (IsClosed)
        {
            return;
        }
        byte[] frame = RendezvousCodec.Encode(message);
        TimeSpan delay = TimeSpan.Zero;
        foreach (Hop hop in path)
        {
            delay += hop.Conditions.Latency;
            if (hop.Conditions.Jitter > TimeSpan.Zero)
            {
                delay += TimeSpan.FromTicks((long)(_simulator.Random.NextDouble() * hop.Conditions.Jitter.Ticks));
            }
        }
        // TCP delivers in order: a message never arrives before the one sent ahead of it.
        TimeSpan arrival = _simulator.Now + delay;
        if (arrival < lastArrival)
        {
            arrival = lastArrival;
        }
        lastArrival = arrival;
        _simulator.ScheduleAt(arrival, () =>
        {
            if (IsClosed)
            {
                return;
            }
            RendezvousFrame.TryRead(frame, out ReadOnlySpan<byte> payload, out _).ShouldBe(RendezvousFrame.Status.Complete);
            RendezvousCodec.TryDecode(payload, out RendezvousMessage decoded, out string error).ShouldBeTrue(error);
            _log?.Add(string.Create(CultureInfo.InvariantCulture,
                $"{_simulator.Now.TotalMilliseconds,9:F1} ms  tcp {ClientName,-9} {direction,-11} {Describe(decoded)}"));
            deliver(decoded);
        });
    }

    private static string Describe(RendezvousMessage message) => message switch
    {
        IntroduceMessage m => $"introduce {m.Role} startIn={m.StartInMs}ms peer={m.Peer} candidates={m.Offer.Candidates.Count}",
        RegisterMessage m => $"register {m.Name} offer={(m.Offer is null ? "none" : m.Offer.Candidates.Count.ToString(CultureInfo.InvariantCulture))}",
        ConnectMessage m => $"connect {m.Peer} wait={m.WaitMs}ms",
        _ => message.ToString(),
    };

    /// <summary>
    /// The links a packet from <paramref name="from"/> to <paramref name="to"/> crosses, with the
    /// direction it crosses each in: up through every router above the sender to the internet, then
    /// down to the receiver. (Both ends here are never on one LAN: the server is on the internet.)
    /// </summary>
    public static IReadOnlyList<Hop> Path(VirtualHost from, VirtualHost to)
    {
        var path = new List<Hop>(Up(from));
        List<Hop> down = Up(to);
        down.Reverse();
        path.AddRange(down.Select(hop => hop with { Egress = !hop.Egress }));
        return path;
    }

    /// <summary>From a host up to the internet: its own link (egress), then each router's LAN side (ingress) and WAN side (egress).</summary>
    private static List<Hop> Up(VirtualHost host)
    {
        var hops = new List<Hop> { new(host.Link, Egress: true) };
        NetworkSegment segment = host.Link.Segment;
        while (segment.Router is NatRouter router)
        {
            hops.Add(new Hop(router.Inside, Egress: false));
            hops.Add(new Hop(router.Outside, Egress: true));
            segment = router.Outside.Segment;
        }
        return hops;
    }

    /// <summary>One link crossed in one direction: node → segment (<paramref name="Egress"/>) or segment → node.</summary>
    public sealed record Hop(Link Link, bool Egress)
    {
        /// <summary>The link's current conditions in that direction.</summary>
        public LinkConditions Conditions => Egress ? Link.Egress : Link.Ingress;
    }
}
