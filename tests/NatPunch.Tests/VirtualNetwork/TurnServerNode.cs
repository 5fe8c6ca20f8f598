using System.Net;
using System.Net.Sockets;
using NatPunch.Relay;
using NatPunch.Server.Turn;
using TurnClient = NatPunch.Server.Turn.TurnClient;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// The project's own TURN server core (<see cref="TurnCore"/>) on a public host of the simulation,
/// over UDP: relayed addresses are virtual sockets on the same host, time is the simulator's. It can
/// be restarted (every allocation forgotten, as a restarted process forgets them) or stopped.
/// </summary>
public sealed class TurnServerNode : ITurnEnvironment
{
    private static readonly DateTimeOffset Epoch = new(2026, 12, 7, 0, 0, 0, TimeSpan.Zero);
    private readonly Simulator _simulator;
    private readonly SimulatedWakeUp _expiry;
    private VirtualSocket? _socket;
    private TurnCore _core;

    internal TurnServerNode(Simulator simulator, VirtualHost host, int port)
    {
        _simulator = simulator;
        Host = host;
        EndPoint = new IPEndPoint(host.Address, port);
        _core = NewCore();
        _expiry = new SimulatedWakeUp(simulator, Expire);
        Listen();
    }

    public VirtualHost Host { get; }

    public IPEndPoint EndPoint { get; }

    /// <summary>The long-term credentials it accepts.</summary>
    public TurnCredentials Credentials { get; } = new("peer", "relay-password");

    public int AllocationCount => _core.AllocationCount;

    /// <summary>The server process restarts: a new core with no allocations; its port answers again at once.</summary>
    public void Restart()
    {
        _core.Clear();
        _core = NewCore();
    }

    /// <summary>The server goes away: its port and every relayed address stop answering.</summary>
    public void Stop()
    {
        _core.Clear();
        _socket?.Close();
        _socket = null;
        _expiry.Cancel();
    }

    IPAddress? ITurnEnvironment.RelayAddressFor(TurnClient client, AddressFamily family) =>
        family == AddressFamily.InterNetwork ? Host.Address : null;

    IRelaySocket? ITurnEnvironment.TryBind(IPEndPoint endPoint)
    {
        if (Host.Sockets.Any(s => s.LocalEndPoint.Port == endPoint.Port))
        {
            return null;
        }
        var relay = new RelaySocket(Host.Bind(endPoint.Port, endPoint.Address));
        TurnCore core = _core;
        relay.Socket.OnReceive(datagram =>
        {
            core.HandleFromPeer(relay, datagram.From, datagram.Payload, Now);
            _expiry.Reschedule(_simulator.Now + TimeSpan.FromSeconds(1));
        });
        return relay;
    }

    void ITurnEnvironment.SendToClient(TurnClient client, ReadOnlySpan<byte> message)
    {
        if (_socket is { IsClosed: false } socket)
        {
            socket.Send(client.Remote, message);
        }
    }

    private DateTimeOffset Now => Epoch + _simulator.Now;

    private TurnCore NewCore() =>
        // The simulated internet is RFC 2544's benchmarking range, which a real relay refuses as peers.
        new(new TurnOptions { Realm = "simulation", Users = new Dictionary<string, string> { [Credentials.Username] = Credentials.Password },
                AllowedPeers = [IPNetwork.Parse("198.18.0.0/15")] }, this,
            random: new Random(_simulator.Seed));

    private void Listen()
    {
        _socket = Host.Bind(EndPoint.Port, EndPoint.Address);
        _socket.OnReceive(datagram =>
        {
            _core.HandleFromClient(TurnClient.Create(datagram.From, EndPoint, TurnClientTransport.Udp), datagram.Payload, Now);
            _expiry.Reschedule(_simulator.Now + TimeSpan.FromSeconds(1));
        });
    }

    /// <summary>Expiry runs a second after the last activity, as the real server's 1 s timer would find it.</summary>
    private void Expire() => _core.Expire(Now);

    public override string ToString() => $"TURN {Host.Name} {EndPoint}";

    private sealed class RelaySocket(VirtualSocket socket) : IRelaySocket
    {
        public VirtualSocket Socket { get; } = socket;

        public IPEndPoint LocalEndPoint => Socket.SourceEndPoint;

        public void SendTo(IPEndPoint peer, ReadOnlySpan<byte> data)
        {
            if (!Socket.IsClosed)
            {
                Socket.Send(peer, data);
            }
        }

        public void SetDontFragment()
        {
        }

        public void Dispose()
        {
            if (!Socket.IsClosed)
            {
                Socket.Close();
            }
        }
    }
}
