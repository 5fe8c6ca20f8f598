using System.Net;
using System.Net.Sockets;
using System.Text;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Turn;
using NatPunch.Relay;
using NatPunch.Rendezvous;
using NatPunch.Server;
using NatPunch.Server.Rendezvous;
using NatPunch.Server.Turn;
using NatPunch.Stun;
using RelayClient = NatPunch.Relay.TurnClient;

namespace NatPunch.IntegrationTests.Relay;

/// <summary>
/// Zero-configuration relay: a registered peer gets a <see cref="TurnGrant"/> in <c>registered</c>
/// and allocates with it on the same server, in process, over real UDP and TCP on loopback.
/// </summary>
public sealed class TurnGrantTests : IAsyncLifetime
{
    private const string Token = "tok";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly List<NatPunchServer> _servers = [];
    private readonly List<RendezvousClient> _peers = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (RendezvousClient peer in _peers)
        {
            await peer.DisposeAsync();
        }
        foreach (NatPunchServer server in _servers)
        {
            await TurnClientOurServerTests.DisposeServerAsync(server);
        }
    }

    /// <summary>A server with the options a user gets without TURN flags, plus loopback peers for the test.</summary>
    private NatPunchServer StartServer(TurnOptions? turn = null, TimeSpan? resumeWindow = null)
    {
        var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Rendezvous = RendezvousOptions.Default with { Token = Token, ResumeWindow = resumeWindow ?? RendezvousOptions.Default.ResumeWindow },
            Turn = turn ?? new TurnOptions { AllowLoopbackPeers = true },
        });
        server.Start();
        _servers.Add(server);
        return server;
    }

    private async Task<RegisteredMessage> RegisterAsync(NatPunchServer server, string name)
    {
        var peer = new RendezvousClient(new RendezvousClientOptions { Server = server.UdpEndPoints[0].ToString(), Name = name, Token = Token });
        _peers.Add(peer);
        return await peer.StartAsync(null, Cancel).WaitAsync(Timeout, Cancel);
    }

    private static Task<RelayClient> ConnectAsync(NatPunchServer server, TurnServerTransport transport, TurnGrant grant) =>
        RelayClient.ConnectAsync(server.UdpEndPoints[0], new TurnCredentials(grant.Username, grant.Password), new TurnConnectionOptions
        {
            Transport = transport,
            LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Client = new TurnClientOptions
            {
                Retransmission = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxSends = 5, FinalWaitMultiplier = 8 },
            },
        }, cancellationToken: Cancel);

    [Theory]
    [InlineData(TurnServerTransport.Udp)]
    [InlineData(TurnServerTransport.Tcp)]
    public async Task RegisteredPeerRelaysWithItsGrantAndNoTurnConfiguration(TurnServerTransport transport)
    {
        NatPunchServer server = StartServer();
        RegisteredMessage registered = await RegisterAsync(server, $"bob-{transport}");
        TurnGrant grant = registered.Turn.ShouldNotBeNull();
        grant.Username.ShouldEndWith($":bob-{transport}");
        grant.TtlS.ShouldBe(3600);

        await using RelayClient client = await ConnectAsync(server, transport, grant);
        RelayAllocation allocation = await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        allocation.RelayedAddress.Address.ShouldBe(IPAddress.Loopback);
        server.Turn!.Snapshot().Allocations.ShouldBe(1);

        // And it relays: a datagram to a peer and the answer back.
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var peerEndPoint = (IPEndPoint)peer.LocalEndPoint!;
        await client.CreatePermissionAsync(peerEndPoint, Cancel).WaitAsync(Timeout, Cancel);
        await client.SendAsync(peerEndPoint, Encoding.ASCII.GetBytes("through the relay"), Cancel);
        byte[] buffer = new byte[2048];
        SocketReceiveFromResult got = await peer.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), Cancel)
            .AsTask().WaitAsync(Timeout, Cancel);
        Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes).ShouldBe("through the relay");
        await peer.SendToAsync(Encoding.ASCII.GetBytes("and back"), SocketFlags.None, allocation.RelayedAddress, Cancel);
        TurnDatagram back = await client.ReceiveAsync(Cancel).AsTask().WaitAsync(Timeout, Cancel);
        Encoding.ASCII.GetString(back.Payload.Span).ShouldBe("and back");
    }

    [Theory]
    [InlineData(TurnServerTransport.Udp)]
    [InlineData(TurnServerTransport.Tcp)]
    public async Task GrantWithAnExpiryInThePastIsRefused(TurnServerTransport transport)
    {
        NatPunchServer server = StartServer();
        // Minted with the server's own secret, so only the expiry is wrong.
        TurnGrant stale = server.TurnGrants!.Issue("bob", DateTimeOffset.UtcNow.AddDays(-2));
        await AllocationIsRefusedWith401(server, transport, stale);
    }

    [Fact]
    public async Task AGrantEndsWithItsRegistrationAndTakesItsAllocationWithIt()
    {
        NatPunchServer server = StartServer(resumeWindow: TimeSpan.FromMilliseconds(500));
        TurnGrant grant = (await RegisterAsync(server, "leaving")).Turn.ShouldNotBeNull();
        await using RelayClient client = await ConnectAsync(server, TurnServerTransport.Udp, grant);
        await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        server.Turn!.Snapshot().Allocations.ShouldBe(1);

        // The peer's rendezvous connection ends and it does not come back within the resume window.
        await _peers[^1].DisposeAsync();
        _peers.RemoveAt(_peers.Count - 1);
        var deadline = DateTime.UtcNow + Timeout;
        while (server.Turn.Snapshot().Allocations > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Cancel);
        }

        server.Turn.Snapshot().Allocations.ShouldBe(0, "the allocation went with the registration");
        server.TurnGrants!.Revoked.IsRevoked(grant.Username).ShouldBeTrue();
        await AllocationIsRefusedWith401(server, TurnServerTransport.Udp, grant);
    }

    [Fact]
    public async Task GrantIsRefusedOnceItsTtlHasPassed()
    {
        NatPunchServer server = StartServer(new TurnOptions { AllowLoopbackPeers = true, GrantLifetime = TimeSpan.FromSeconds(1) });
        TurnGrant grant = (await RegisterAsync(server, "brief")).Turn.ShouldNotBeNull();
        grant.TtlS.ShouldBe(1);
        TurnRestCredentials.TryGetExpiry(grant.Username, out DateTimeOffset expiry).ShouldBeTrue();
        TimeSpan untilExpired = expiry - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(100);
        untilExpired.ShouldBeLessThan(TimeSpan.FromSeconds(2));
        if (untilExpired > TimeSpan.Zero)
        {
            await Task.Delay(untilExpired, Cancel);
        }
        await AllocationIsRefusedWith401(server, TurnServerTransport.Udp, grant);
    }

    [Theory]
    [InlineData(TurnServerTransport.Udp)]
    [InlineData(TurnServerTransport.Tcp)]
    public async Task TamperedGrantIsRefused(TurnServerTransport transport)
    {
        NatPunchServer server = StartServer();
        TurnGrant grant = (await RegisterAsync(server, $"mallory-{transport}")).Turn.ShouldNotBeNull();
        await AllocationIsRefusedWith401(server, transport, grant with { Password = (grant.Password[0] == 'A' ? "B" : "A") + grant.Password[1..] });
        // Nor can the expiry be pushed out: the password covers the whole username.
        string later = TurnRestCredentials.Username(DateTimeOffset.UtcNow.AddDays(365), $"mallory-{transport}");
        await AllocationIsRefusedWith401(server, transport, grant with { Username = later });
        // A grant of another server (another random secret) is no good here either.
        await AllocationIsRefusedWith401(server, transport, StartServer().TurnGrants!.Issue("mallory", DateTimeOffset.UtcNow));
        server.Turn!.Snapshot().Allocations.ShouldBe(0);
    }

    [Fact]
    public async Task WithTurnOffThereIsNoGrantAndAllocateIsRefused()
    {
        NatPunchServer server = StartServer(new TurnOptions { Enabled = false });
        server.Turn.ShouldBeNull();
        server.TurnGrants.ShouldBeNull();
        (await RegisterAsync(server, "bob")).Turn.ShouldBeNull();

        // Even credentials that would be good elsewhere: there is no relay to take them.
        TurnGrant elsewhere = new TurnGrantIssuer("whatever", TimeSpan.FromHours(1)).Issue("bob");
        await using RelayClient client = await ConnectAsync(server, TurnServerTransport.Udp, elsewhere);
        TurnException failure = await Should.ThrowAsync<TurnException>(() => client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel));
        failure.Error.Code.ShouldBe(400);
    }

    [Fact]
    public async Task WithAConfiguredSecretTheGrantVerifiesWithIt()
    {
        const string secret = "shared-with-other-services";
        NatPunchServer server = StartServer(new TurnOptions
        {
            Secret = secret,
            Users = new Dictionary<string, string> { ["alice"] = "wonderland" },
            AllowLoopbackPeers = true,
        });
        DateTimeOffset before = DateTimeOffset.UtcNow;
        TurnGrant grant = (await RegisterAsync(server, "carol")).Turn.ShouldNotBeNull();
        grant.Password.ShouldBe(TurnRestCredentials.Password(secret, grant.Username));
        grant.Username.ShouldEndWith(":carol");
        TurnRestCredentials.TryGetExpiry(grant.Username, out DateTimeOffset expiry).ShouldBeTrue();
        expiry.ShouldBeInRange(before.AddSeconds(3599), DateTimeOffset.UtcNow.AddSeconds(3600));

        await using RelayClient client = await ConnectAsync(server, TurnServerTransport.Udp, grant);
        await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        // The static user still works next to the grants.
        await using RelayClient alice = await ConnectAsync(server, TurnServerTransport.Tcp, new TurnGrant("alice", "wonderland", 0));
        await alice.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        server.Turn!.Snapshot().Allocations.ShouldBe(2);
    }

    private static async Task AllocationIsRefusedWith401(NatPunchServer server, TurnServerTransport transport, TurnGrant grant)
    {
        await using RelayClient client = await ConnectAsync(server, transport, grant);
        TurnException failure = await Should.ThrowAsync<TurnException>(() => client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel));
        failure.Error.Kind.ShouldBe(TurnErrorKind.WrongCredentials);
        failure.Error.Code.ShouldBe(401);
    }
}
