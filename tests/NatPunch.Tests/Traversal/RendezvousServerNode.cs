using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Server.Rendezvous;
using NatPunch.Tests.VirtualNetwork;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// The rendezvous service's core (<see cref="RendezvousDirectory"/>) on a host of the simulation,
/// driven the way <c>Internal/RendezvousLoop</c> drives it: messages in, then every output sent on
/// its connection, then a wake-up scheduled at <see cref="RendezvousDirectory.NextWakeUp"/> (its
/// pings, which also measure each client's round-trip time, and its connect deadlines).
/// </summary>
internal sealed class RendezvousServerNode
{
    private readonly Simulator _simulator;
    private readonly Dictionary<long, SimulatedTcpConnection> _connections = [];
    private readonly List<string>? _log;
    private long _nextConnectionId;
    private readonly SimulatedWakeUp _wakeUp;

    public RendezvousServerNode(Simulator simulator, VirtualHost host, RendezvousOptions options, List<string>? log)
    {
        _simulator = simulator;
        Host = host;
        Directory = new RendezvousDirectory(options);
        _log = log;
        _wakeUp = new SimulatedWakeUp(simulator, WakeUp);
    }

    /// <summary>The host whose link the rendezvous traffic crosses (the STUN server's: one server, one port number).</summary>
    public VirtualHost Host { get; }

    public RendezvousDirectory Directory { get; }

    /// <summary>
    /// A client on <paramref name="client"/> opens a connection. The server sees it come from
    /// <paramref name="observed"/> (the client's NAT mapping for the TCP connection).
    /// </summary>
    public SimulatedTcpConnection Open(string clientName, VirtualHost client, IPEndPoint observed)
    {
        var connection = new SimulatedTcpConnection(_simulator, ++_nextConnectionId, clientName, client, Host, _log)
        {
            ServerReceiver = Receive,
        };
        _connections.Add(connection.Id, connection);
        // The SYN travels the path like the first message would; the directory learns of the connection then.
        TimeSpan arrival = _simulator.Now + connection.LatencyToServer;
        _simulator.ScheduleAt(arrival, () =>
        {
            Directory.Connected(connection.Id, observed, _simulator.Now);
            Flush();
        });
        return connection;
    }

    private void Receive(SimulatedTcpConnection connection, RendezvousMessage message)
    {
        Directory.Received(connection.Id, message, _simulator.Now);
        Flush();
    }

    private void Flush()
    {
        while (Directory.TryPollOutput(out RendezvousOutput output))
        {
            if (!_connections.TryGetValue(output.ConnectionId, out SimulatedTcpConnection? connection))
            {
                continue;
            }
            if (output.Message is not null)
            {
                connection.SendToClient(output.Message);
            }
            if (output.Close)
            {
                connection.Close();
                _connections.Remove(connection.Id);
            }
        }
        ScheduleWakeUp();
    }

    private void ScheduleWakeUp() => _wakeUp.Reschedule(Directory.NextWakeUp);

    private void WakeUp()
    {
        Directory.HandleTimeout(_simulator.Now);
        Flush();
    }
}
