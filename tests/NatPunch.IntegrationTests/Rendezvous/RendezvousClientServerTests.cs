using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Rendezvous;
using NatPunch.Server;
using NatPunch.Server.Rendezvous;

namespace NatPunch.IntegrationTests.Rendezvous;

/// <summary>The rendezvous client against the real server over TCP on loopback.</summary>
public sealed class RendezvousClientServerTests : IAsyncLifetime
{
    private static readonly PeerOffer Offer = new("u", "p", [new CandidateInfo("host", "127.0.0.1:5000", 1, "1")]);
    private static readonly RendezvousOptions FastLiveness = RendezvousOptions.Default with
    {
        PingInterval = TimeSpan.FromMilliseconds(200),
        DeadAfter = TimeSpan.FromSeconds(3),
    };

    private NatPunchServer _server = null!;
    private readonly List<RendezvousClient> _clients = [];

    public ValueTask InitializeAsync()
    {
        _server = StartServer(0, token: "tok");
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (RendezvousClient client in _clients)
        {
            await client.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    private static NatPunchServer StartServerOnFixedPort()
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = Random.Shared.Next(20000, 32000);
            try
            {
                return StartServer(port, token: null);
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 20)
            {
                // taken: try another
            }
        }
    }

    private static NatPunchServer StartServer(int port, string? token)
    {
        var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, port)],
            Rendezvous = FastLiveness with { Token = token },
        });
        server.Start();
        return server;
    }

    private string ServerAddress => _server.UdpEndPoints[0].ToString();

    private RendezvousClient Client(string name, string? token = "tok")
    {
        var client = new RendezvousClient(new RendezvousClientOptions
        {
            Server = ServerAddress,
            Name = name,
            Token = token,
            PingInterval = TimeSpan.FromMilliseconds(200),
            DeadAfter = TimeSpan.FromSeconds(3),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        });
        _clients.Add(client);
        return client;
    }

    [Fact]
    public async Task TwoPeersAreIntroduced()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        RendezvousClient bob = Client("bob");
        RendezvousClient alice = Client("alice");
        (await bob.StartAsync(Offer, ct)).Observed.ShouldStartWith("127.0.0.1:");
        await alice.StartAsync(null, ct);
        Task<IntroduceMessage> bobSide = bob.WaitForIntroductionAsync(ct);
        IntroduceMessage aliceSide = await alice.ConnectToPeerAsync("bob", Offer with { Ufrag = "a" }, TimeSpan.FromSeconds(5), ct);
        IntroduceMessage toBob = await bobSide.WaitAsync(TimeSpan.FromSeconds(5), ct);
        aliceSide.Session.ShouldBe(toBob.Session);
        toBob.Offer.Ufrag.ShouldBe("a");
        aliceSide.Role.ShouldBe(IceRole.Controlling);
    }

    [Fact]
    public async Task WrongOrMissingTokenIsReportedAsSuch()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var wrong = await Should.ThrowAsync<RendezvousException>(() => Client("x", token: "nope").StartAsync(null, ct));
        wrong.Code.ShouldBe(RendezvousErrorCodes.Unauthorized);
        wrong.Message.ShouldBe("wrong token");
        var missing = await Should.ThrowAsync<RendezvousException>(() => Client("y", token: null).StartAsync(null, ct));
        missing.Message.ShouldContain("requires a token");
    }

    [Fact]
    public async Task UnknownPeerAndTakenNameGiveClearErrors()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        RendezvousClient alice = Client("alice2");
        await alice.StartAsync(null, ct);
        var unknown = await Should.ThrowAsync<RendezvousException>(() => alice.ConnectToPeerAsync("ghost", Offer, TimeSpan.FromMilliseconds(300), ct));
        unknown.Code.ShouldBe(RendezvousErrorCodes.PeerUnknown);
        unknown.Message.ShouldContain("ghost");
        var taken = await Should.ThrowAsync<RendezvousException>(() => Client("alice2").StartAsync(null, ct));
        taken.Code.ShouldBe(RendezvousErrorCodes.NameTaken);
    }

    [Fact]
    public async Task AFreshRelayGrantArrivesHalfWayThroughTheLastOnesLife()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Rendezvous = FastLiveness,
            Turn = NatPunch.Server.Turn.TurnOptions.Default with { GrantLifetime = TimeSpan.FromSeconds(4) },
        });
        server.Start();
        var client = new RendezvousClient(new RendezvousClientOptions { Server = server.UdpEndPoints[0].ToString(), Name = "renewed" });
        _clients.Add(client);
        var renewed = new TaskCompletionSource<TurnGrant>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.GrantRenewed += grant => renewed.TrySetResult(grant);
        TurnGrant first = (await client.StartAsync(null, ct)).Turn.ShouldNotBeNull();
        TurnGrant fresh = await renewed.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        fresh.Username.ShouldNotBe(first.Username);
        fresh.Username.ShouldEndWith(":renewed");
        fresh.TtlS.ShouldBe(4);
    }

    [Fact]
    public async Task UnreachableServerFailsWithinTheConnectTimeout()
    {
        var client = new RendezvousClient(new RendezvousClientOptions { Server = "127.0.0.1:1", Name = "z", ConnectTimeout = TimeSpan.FromSeconds(1) });
        _clients.Add(client);
        var error = await Should.ThrowAsync<RendezvousException>(() => client.StartAsync(null, TestContext.Current.CancellationToken));
        error.Code.ShouldBe(RendezvousException.Unreachable);
        error.Message.ShouldContain("cannot reach");
    }

    [Fact]
    public async Task PeerThatGoesAwayIsUnregisteredWithinSeconds()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        RendezvousClient bob = Client("bob3");
        await bob.StartAsync(Offer, ct);
        await bob.DisposeAsync();
        RendezvousClient alice = Client("alice3");
        await alice.StartAsync(null, ct);
        // The closed TCP connection unregisters bob at once; a connect with no wait then fails.
        var error = await Should.ThrowAsync<RendezvousException>(async () =>
        {
            await Task.Delay(300, ct);
            await alice.ConnectToPeerAsync("bob3", Offer, TimeSpan.Zero, ct);
        });
        error.Code.ShouldBe(RendezvousErrorCodes.PeerUnknown);
    }

    [Fact]
    public async Task AnOfferThatServedASessionIsNotRegisteredAgainAfterAReconnect()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer own = StartServerOnFixedPort();
        int port = own.UdpEndPoints[0].Port;
        var bob = Track(new RendezvousClient(new RendezvousClientOptions
        {
            Server = $"127.0.0.1:{port}",
            Name = "bob6",
            PingInterval = TimeSpan.FromMilliseconds(200),
            DeadAfter = TimeSpan.FromSeconds(3),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(300),
        }));
        var registeredAgain = new TaskCompletionSource();
        bob.RegisteredAgain += _ => registeredAgain.TrySetResult();
        await bob.StartAsync(Offer, ct);
        var alice = Track(new RendezvousClient(new RendezvousClientOptions { Server = $"127.0.0.1:{port}", Name = "alice6" }));
        await alice.StartAsync(null, ct);
        await alice.ConnectToPeerAsync("bob6", Offer, TimeSpan.FromSeconds(5), ct);
        await bob.WaitForIntroductionAsync(ct);

        await own.DisposeAsync();
        await using NatPunchServer restarted = StartServer(port, token: null);
        await registeredAgain.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        // Bob's offer went to alice's session: a newcomer is told bob offers nothing, not sent to alice's socket.
        var carol = Track(new RendezvousClient(new RendezvousClientOptions { Server = $"127.0.0.1:{port}", Name = "carol6" }));
        await carol.StartAsync(null, ct);
        var busy = await Should.ThrowAsync<RendezvousException>(() => carol.ConnectToPeerAsync("bob6", Offer, TimeSpan.Zero, ct));
        busy.Code.ShouldBe(RendezvousErrorCodes.PeerBusy);
    }

    [Fact]
    public async Task ClientRegistersAgainAfterServerRestart()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        // Below the ephemeral range (32768+) and the TURN relay ports (49152+), so that no other test's
        // socket can take the port in the half second the server is down.
        NatPunchServer own = StartServerOnFixedPort();
        int port = own.UdpEndPoints[0].Port;
        var statuses = new List<string>();
        var bob = new RendezvousClient(new RendezvousClientOptions
        {
            Server = $"127.0.0.1:{port}",
            Name = "bob4",
            PingInterval = TimeSpan.FromMilliseconds(200),
            DeadAfter = TimeSpan.FromSeconds(3),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(300),
        });
        _clients.Add(bob);
        bob.StatusChanged += s => { lock (statuses) { statuses.Add(s); } };
        await bob.StartAsync(Offer, ct);
        await own.DisposeAsync();
        await Task.Delay(500, ct);
        await using NatPunchServer restarted = StartServer(port, token: null);
        var alice = new RendezvousClient(new RendezvousClientOptions { Server = $"127.0.0.1:{port}", Name = "alice4" });
        _clients.Add(alice);
        await alice.StartAsync(null, ct);
        // bob's offer is registered again by itself; alice may connect with a wait for it.
        IntroduceMessage introduce = await alice.ConnectToPeerAsync("bob4", Offer, TimeSpan.FromSeconds(10), ct);
        introduce.Peer.ShouldBe("bob4");
        // bob's reader reports its registration on its own thread: alice's introduction can come first (seen in CI).
        int RegisteredAgainCount() { lock (statuses) { return statuses.Count(s => s.StartsWith("registered again", StringComparison.Ordinal)); } }
        for (int waited = 0; RegisteredAgainCount() == 0 && waited < 50; waited++)
        {
            await Task.Delay(100, ct);
        }
        lock (statuses)
        {
            statuses.ShouldContain(s => s.Contains("reconnecting"));
            statuses.Count(s => s.StartsWith("registered again", StringComparison.Ordinal)).ShouldBe(1, string.Join("\n", statuses));
        }
    }

    [Fact]
    public async Task PeersResumeTheirSessionsAfterAServerRestartAndWhatWasSentMeanwhileArrives()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer own = StartServerOnFixedPort();
        int port = own.UdpEndPoints[0].Port;
        RendezvousClient Peer(string name) => Track(new RendezvousClient(new RendezvousClientOptions
        {
            Server = $"127.0.0.1:{port}",
            Name = name,
            PingInterval = TimeSpan.FromMilliseconds(200),
            DeadAfter = TimeSpan.FromSeconds(3),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(300),
        }));
        RendezvousClient bob = Peer("bob5");
        RendezvousClient carol = Peer("carol5");
        RendezvousClient alice = Peer("alice5");
        await bob.StartAsync(Offer, ct);
        await carol.StartAsync(Offer, ct);
        await alice.StartAsync(null, ct);
        // Alice is in two sessions at once, one connect each (a node): both must be resumed.
        Task<IntroduceMessage> toCarol = alice.ConnectToPeerAsync("carol5", Offer, TimeSpan.FromSeconds(5), ct);
        string session = (await alice.ConnectToPeerAsync("bob5", Offer, TimeSpan.FromSeconds(5), ct)).Session;
        string carolSession = (await toCarol).Session;
        carolSession.ShouldNotBe(session);
        (await bob.WaitForIntroductionAsync(ct)).Session.ShouldBe(session);
        (await carol.WaitForIntroductionAsync(ct)).Session.ShouldBe(carolSession);
        var aliceLost = new TaskCompletionSource();
        alice.StatusChanged += s => { if (s.Contains("reconnecting")) { aliceLost.TrySetResult(); } };
        var bobGrants = new TaskCompletionSource<RegisteredMessage>();
        bob.RegisteredAgain += registered => bobGrants.TrySetResult(registered);

        await own.DisposeAsync();
        await aliceLost.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        // Sent while the server is down: kept, and sent once alice is registered again.
        var candidate = new CandidateInfo("relay", "127.0.0.1:50000", 5, "r");
        await alice.SendSessionMessageAsync(new CandidateMessage(session, candidate), ct);
        await using NatPunchServer restarted = StartServer(port, token: null);

        CandidateMessage arrived = (await NextAsync<CandidateMessage>(bob, session, ct)).ShouldNotBeNull();
        arrived.Candidate.ShouldBe(candidate);
        await bob.SendSessionMessageAsync(new RestartMessage(session, Offer, 1), ct);
        (await NextAsync<RestartMessage>(alice, session, ct)).Round.ShouldBe(1);
        // The second session was resumed too (with a resume message after the register).
        await carol.SendSessionMessageAsync(new RestartMessage(carolSession, Offer, 2), ct);
        (await NextAsync<RestartMessage>(alice, carolSession, ct)).Round.ShouldBe(2);
        (await bobGrants.Task.WaitAsync(TimeSpan.FromSeconds(10), ct)).Name.ShouldBe("bob5");
    }

    private RendezvousClient Track(RendezvousClient client)
    {
        _clients.Add(client);
        return client;
    }

    /// <summary>The next session message of type <typeparamref name="T"/>, within 10 s.</summary>
    private static async Task<T> NextAsync<T>(RendezvousClient client, string session, CancellationToken ct) where T : RendezvousMessage
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        await foreach (RendezvousMessage message in client.SessionMessages(session).ReadAllAsync(limit.Token))
        {
            if (message is T wanted)
            {
                return wanted;
            }
        }
        throw new InvalidOperationException("the session messages ended");
    }
}
