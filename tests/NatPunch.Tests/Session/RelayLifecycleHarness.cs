using System.Net;
using NatPunch.Core;
using NatPunch.Relay;
using NatPunch.Server.Turn;
using NatPunch.Session;
using NatPunch.Tests.Turn;
using TurnClient = NatPunch.Server.Turn.TurnClient;

namespace NatPunch.Tests.Session;

/// <summary>
/// A <see cref="RelayLifecycle"/> wired to the project's real TURN server core (<see cref="TurnCore"/>,
/// no sockets) on a fake clock. The "network" between them can block UDP, leave a TCP connect hanging
/// or refuse it, take the server down (silence) or restart it (it forgets every allocation).
/// </summary>
internal sealed class RelayLifecycleHarness
{
    public static readonly IPEndPoint ServerAddress = IPEndPoint.Parse("198.51.100.1:3478");
    private static readonly IPEndPoint UdpClient = IPEndPoint.Parse("192.0.2.10:40000");
    private static readonly DateTimeOffset Epoch = new(2026, 12, 7, 0, 0, 0, TimeSpan.Zero);
    private readonly Dictionary<RelayAttempt, TurnClient> _clients = [];
    private long _tcpConnections;

    public RelayLifecycleHarness(RelayServer? server = null, string password = "wonderland")
    {
        Server = NewServer();
        RelayServer = server ?? new RelayServer(ServerAddress, new TurnCredentials("alice", password));
    }

    public RelayServer RelayServer { get; }

    public FakeTurnEnvironment Environment { get; private set; } = new();

    public TurnCore Server { get; private set; }

    public RelayLifecycle Relay { get; } = new();

    public TimeSpan Now { get; private set; }

    /// <summary>Everything the core reported, with the time.</summary>
    public List<(TimeSpan At, RelayEvent Event)> Events { get; } = [];

    public bool UdpBlocked { get; set; }

    /// <summary>TCP connects hang (a firewall that drops SYNs).</summary>
    public bool TcpHangs { get; set; }

    /// <summary>The server host is gone: nothing reaches it, TCP connects hang.</summary>
    public bool ServerDown { get; set; }

    public IEnumerable<RelayStatus> Statuses => Events.Select(e => e.Event).OfType<RelayEvent.StatusChanged>().Select(s => s.Status);

    public IEnumerable<RelayAttempt> StartedAttempts => Events.Select(e => e.Event).OfType<RelayEvent.Started>().Select(s => s.Attempt);

    public void Start()
    {
        Relay.Start(RelayServer, Now);
        Pump();
    }

    /// <summary>The server process restarts: a new core with no allocations (and a new nonce secret).</summary>
    public void RestartServer()
    {
        Environment = new FakeTurnEnvironment();
        Server = NewServer();
    }

    /// <summary>Runs the core's timers up to <paramref name="until"/>, pumping messages after each.</summary>
    public void RunUntil(TimeSpan until)
    {
        while (Relay.NextWakeUp is { } wake && wake <= until)
        {
            Now = wake > Now ? wake : Now;
            Relay.HandleTimeout(Now);
            Pump();
        }
        Now = until;
    }

    public void Run(double seconds) => RunUntil(Now + TimeSpan.FromSeconds(seconds));

    /// <summary>Moves everything between the core and the server until neither has anything left.</summary>
    public void Pump()
    {
        bool moved = true;
        while (moved)
        {
            moved = false;
            while (Relay.TryPollEvent(out RelayEvent e))
            {
                moved = true;
                Events.Add((Now, e));
                if (e is RelayEvent.Started started)
                {
                    Open(started.Attempt);
                }
                else if (e is RelayEvent.Discarded discarded)
                {
                    _clients.Remove(discarded.Attempt);
                }
            }
            while (Relay.TryPollTransmit(Now, out RelayAttempt attempt, out OutgoingDatagram datagram))
            {
                moved = true;
                if (Reaches(attempt) && _clients.TryGetValue(attempt, out TurnClient client))
                {
                    Server.HandleFromClient(client, datagram.Payload.Span, Epoch + Now);
                }
            }
            foreach ((TurnClient client, byte[] message) in Environment.ToClients.ToList())
            {
                moved = true;
                RelayAttempt? attempt = _clients.FirstOrDefault(c => c.Value == client).Key;
                if (attempt is not null)
                {
                    Relay.HandleFromServer(attempt, message, Now);
                }
            }
            Environment.ToClients.Clear();
        }
    }

    /// <summary>The TCP connection of the attempt in use closes (the server went away).</summary>
    public void CloseTcp(RelayAttempt attempt)
    {
        Relay.AttemptFailed(attempt, "the TCP connection to the TURN server ended: reset", Now);
        Pump();
    }

    private bool Reaches(RelayAttempt attempt) =>
        !ServerDown && (attempt.Transport == TurnServerTransport.Tcp ? !TcpHangs : !UdpBlocked);

    private void Open(RelayAttempt attempt)
    {
        if (attempt.Transport == TurnServerTransport.Udp)
        {
            _clients[attempt] = TurnClient.Create(UdpClient, ServerAddress, TurnClientTransport.Udp);
            return;
        }
        long number = ++_tcpConnections;
        _clients[attempt] = TurnClient.Create(new IPEndPoint(UdpClient.Address, 41000 + (int)number), ServerAddress, TurnClientTransport.Tcp, number);
        if (!TcpHangs && !ServerDown)
        {
            Relay.Connected(attempt, Now);
        }
    }

    private TurnCore NewServer() =>
        new(new TurnOptions { Realm = "lab", Users = new Dictionary<string, string> { ["alice"] = "wonderland" } }, Environment, random: new Random(7));
}
