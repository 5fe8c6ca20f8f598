using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A computer: one link to its segment, one or more addresses there, and UDP sockets bound to ports.
/// Its link is its access line: set <c>host.Link.SetConditions(...)</c> for per-host latency and loss.
/// </summary>
public sealed class VirtualHost : INetworkNode
{
    /// <summary>Where automatic (port 0) binds start, as on Linux.</summary>
    public const int FirstEphemeralPort = 49152;

    private readonly List<VirtualSocket> _sockets = [];
    private int _nextEphemeralPort = FirstEphemeralPort;

    internal VirtualHost(NetworkSegment segment, string name, IReadOnlyList<IPAddress> addresses, LinkConditions? conditions)
    {
        if (addresses.Count == 0)
        {
            throw new ArgumentException("A host needs at least one address.", nameof(addresses));
        }
        Name = name;
        Simulator = segment.Simulator;
        Addresses = addresses;
        Link = segment.Attach(this, addresses, conditions);
    }

    public string Name { get; }

    public Simulator Simulator { get; }

    public Link Link { get; }

    public IReadOnlyList<IPAddress> Addresses { get; }

    /// <summary>The first address: the source of datagrams from sockets bound to the wildcard address.</summary>
    public IPAddress Address => Addresses[0];

    public IReadOnlyList<VirtualSocket> Sockets => _sockets;

    /// <summary>
    /// A socket on <paramref name="port"/> (0: the next free ephemeral port) and <paramref name="address"/>
    /// (null: all of the host's addresses). Binding a port that is taken throws, like EADDRINUSE.
    /// </summary>
    public VirtualSocket Bind(int port = 0, IPAddress? address = null)
    {
        if (address is not null && !Addresses.Contains(address))
        {
            throw new ArgumentException($"{Name} has no address {address}.", nameof(address));
        }
        if (port == 0)
        {
            while (_sockets.Any(s => s.LocalEndPoint.Port == _nextEphemeralPort))
            {
                _nextEphemeralPort++;
            }
            port = _nextEphemeralPort++;
        }
        if (port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, "not a UDP port");
        }
        if (_sockets.Any(s => s.LocalEndPoint.Port == port && (address is null || s.IsWildcard || s.LocalEndPoint.Address.Equals(address))))
        {
            throw new InvalidOperationException($"{Name}: port {port} is already bound.");
        }
        var socket = new VirtualSocket(this, new IPEndPoint(address ?? IPAddress.Any, port));
        _sockets.Add(socket);
        return socket;
    }

    internal void Unbind(VirtualSocket socket) => _sockets.Remove(socket);

    /// <summary>A socket hands a datagram to the host's network stack.</summary>
    internal void Transmit(Packet packet)
    {
        if (Addresses.Contains(packet.Destination.Address))
        {
            // Loopback: never touches the link.
            Simulator.ScheduleAt(Simulator.Now, () => Receive(packet, Link));
        }
        else
        {
            Link.Transmit(packet);
        }
    }

    public void Receive(Packet packet, Link link)
    {
        VirtualSocket? socket =
            _sockets.FirstOrDefault(s => s.LocalEndPoint.Port == packet.Destination.Port && s.LocalEndPoint.Address.Equals(packet.Destination.Address))
            ?? _sockets.FirstOrDefault(s => s.LocalEndPoint.Port == packet.Destination.Port && s.IsWildcard);
        if (socket is null)
        {
            Simulator.Record(TraceKind.Dropped, Name, packet, DropReason.PortUnreachable);
            return;
        }
        socket.Deliver(packet);
    }

    public override string ToString() => $"{Name} ({string.Join(", ", Addresses)})";
}
