using System.Net;
using System.Security.Cryptography;
using NatPunch.Server;
using NatPunch.Server.Rendezvous;
using NatPunch.Server.Turn;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// Zero configuration end to end: peers that name no TURN server relay through the NatPunch
/// server's own relay with the grants it hands out in <c>registered</c>.
/// </summary>
public sealed class PeerConnectorGrantLoopbackTests : IAsyncLifetime
{
    private readonly List<NatPunchServer> _servers = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (NatPunchServer server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    private NatPunchServer StartServer(TurnOptions turn)
    {
        var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Rendezvous = RendezvousOptions.Default with { Token = "tok" },
            Turn = turn,
        });
        server.Start();
        _servers.Add(server);
        return server;
    }

    /// <summary>No TurnServer, no TurnCredentials: only what the rendezvous grants.</summary>
    private static PeerOptions Options(NatPunchServer server, string name) => new()
    {
        Server = server.UdpEndPoints[0].ToString(),
        Name = name,
        Token = "tok",
        IncludeLoopbackCandidates = true,
        Timeout = TimeSpan.FromSeconds(15),
        Relay = RelayMode.Only,
    };

    [Fact]
    public async Task RelayOnlyWorksWithTheGrantedCredentialsAlone()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        // Default TURN options, but loopback peers allowed: both peers live on this host.
        NatPunchServer server = StartServer(new TurnOptions { AllowLoopbackPeers = true });
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options(server, "bob-granted"), null, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Options(server, "alice-granted"), "bob-granted", null, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);

        alice.Path.Direct.ShouldBeFalse();
        bob.Path.Direct.ShouldBeFalse();
        alice.Path.CandidateTypes.ShouldStartWith("relay/");
        server.Turn!.Snapshot().Allocations.ShouldBeGreaterThanOrEqualTo(1);

        byte[] toBob = RandomNumberGenerator.GetBytes(200_000);
        Task<byte[]> bobReads = ReadAllAsync(bob, ct);
        await alice.Stream.WriteAsync(toBob, ct);
        await alice.Stream.CompleteWritesAsync(ct);
        await bob.Stream.CompleteWritesAsync(ct);
        SHA256.HashData(await bobReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toBob));
    }

    [Fact]
    public async Task RelayOnlyAgainstANoTurnServerFailsSayingSo()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(new TurnOptions { Enabled = false });
        // A listener learns at registration that there is no grant, so it fails at once.
        var error = await Should.ThrowAsync<ConnectException>(() =>
            PeerConnector.ListenAsync(Options(server, "bob-no-relay"), null, ct).WaitAsync(TimeSpan.FromSeconds(10), ct));
        error.Message.ShouldContain("no TURN relay");
        error.Failure.ShouldBe(ConnectFailure.ServerOffersNoRelay);
    }

    private static async Task<byte[]> ReadAllAsync(PeerConnection connection, CancellationToken ct)
    {
        using var all = new MemoryStream();
        await connection.Stream.CopyToAsync(all, ct);
        return all.ToArray();
    }
}
