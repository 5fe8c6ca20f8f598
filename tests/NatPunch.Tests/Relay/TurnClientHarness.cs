using System.Net;
using NatPunch.Core;
using NatPunch.Relay;
using NatPunch.Server.Turn;
using NatPunch.Stun;
using NatPunch.Tests.Turn;
using ServerTurnClient = NatPunch.Server.Turn.TurnClient;

namespace NatPunch.Tests.Relay;

/// <summary>A <see cref="TurnClientCore"/> wired in memory to our server's <see cref="TurnCore"/>, with a fake clock.</summary>
internal sealed class TurnClientHarness
{
    public static readonly IPEndPoint ServerAddress = IPEndPoint.Parse("198.51.100.1:3478");
    public static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    public TurnClientHarness(TurnOptions? serverOptions = null, TurnCredentials? credentials = null, TurnClientOptions? clientOptions = null,
        string clientAddress = "192.0.2.10:40000")
    {
        serverOptions ??= new TurnOptions { Realm = "test.realm", Users = new Dictionary<string, string> { ["alice"] = "wonderland" } };
        Server = new TurnCore(serverOptions, Environment, random: new Random(7));
        Client = AddClient(credentials ?? new TurnCredentials("alice", "wonderland"), clientOptions, clientAddress);
    }

    public FakeTurnEnvironment Environment { get; } = new();
    public TurnCore Server { get; }
    public TurnClientCore Client { get; }
    public List<(ServerTurnClient Tuple, TurnClientCore Core)> Clients { get; } = [];
    public TimeSpan Now { get; private set; }
    public bool ServerReachable { get; set; } = true;

    /// <summary>How many of the next messages to the server are lost.</summary>
    public int DropToServer { get; set; }
    public List<byte[]> ToServer { get; } = [];
    public List<TurnOperationResult> Results { get; } = [];

    public TurnClientCore AddClient(TurnCredentials credentials, TurnClientOptions? options, string clientAddress)
    {
        var core = new TurnClientCore(ServerAddress, credentials, options ?? new TurnClientOptions
        {
            Retransmission = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxSends = 4, FinalWaitMultiplier = 4 },
        });
        core.OperationCompleted += Results.Add;
        Clients.Add((ServerTurnClient.Create(IPEndPoint.Parse(clientAddress), ServerAddress, TurnClientTransport.Udp), core));
        return core;
    }

    public FakeTurnEnvironment.FakeRelay Relay => Environment.Relays[^1];

    /// <summary>Moves messages between the cores until neither has anything to say.</summary>
    public void Pump()
    {
        for (int round = 0; round < 100; round++)
        {
            bool moved = false;
            foreach ((ServerTurnClient tuple, TurnClientCore core) in Clients)
            {
                while (core.TryPollTransmit(Now, out OutgoingDatagram datagram))
                {
                    moved = true;
                    datagram.To.ShouldBe(ServerAddress);
                    ToServer.Add(datagram.Payload.ToArray());
                    if (DropToServer > 0)
                    {
                        DropToServer--;
                    }
                    else if (ServerReachable)
                    {
                        Server.HandleFromClient(tuple, datagram.Payload.Span, Epoch + Now);
                    }
                }
            }
            foreach ((ServerTurnClient to, byte[] message) in Environment.ToClients.ToArray())
            {
                moved = true;
                Clients.Single(c => c.Tuple == to).Core.HandleDatagram(message, ServerAddress, Now);
            }
            Environment.ToClients.Clear();
            if (!moved)
            {
                return;
            }
        }
        throw new InvalidOperationException("The cores never went quiet.");
    }

    /// <summary>Advances the clock to <paramref name="until"/>, waking the clients (and expiring the server) on the way.</summary>
    public void Run(TimeSpan until)
    {
        Pump();
        while (true)
        {
            TimeSpan? next = Clients.Select(c => c.Core.NextWakeUp).Where(t => t is not null).Min();
            TimeSpan step = next is { } at && at <= until ? (at < Now ? Now : at) : until;
            if (step > Now)
            {
                // Let the server expire what it would in between, a second at a time at most.
                for (TimeSpan t = Now + TimeSpan.FromSeconds(1); t < step; t += TimeSpan.FromSeconds(1))
                {
                    Server.Expire(Epoch + t);
                }
                Now = step;
                Server.Expire(Epoch + Now);
            }
            foreach ((_, TurnClientCore core) in Clients)
            {
                if (core.NextWakeUp is { } wake && wake <= Now)
                {
                    core.HandleTimeout(Now);
                }
            }
            Pump();
            if (Now >= until && Clients.All(c => c.Core.NextWakeUp is not { } w || w > Now))
            {
                return;
            }
        }
    }

    public void Allocate()
    {
        Client.Allocate(Now);
        Pump();
        Client.State.ShouldBe(TurnClientState.Allocated, Client.Error?.Message);
    }

    public List<TurnDatagram> Received(TurnClientCore? core = null)
    {
        var list = new List<TurnDatagram>();
        while ((core ?? Client).TryPollReceived(out TurnDatagram datagram))
        {
            list.Add(datagram);
        }
        return list;
    }
}
