using System.Net;
using System.Threading.Channels;
using NatPunch.Relay;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Stun;
using NatPunch.Testing;
using RelayClient = NatPunch.Relay.TurnClient;

namespace NatPunch.IntegrationTests.Relay;

/// <summary>Our TURN client against our own <c>natpunch server</c>, in process.</summary>
public sealed class TurnClientOurServerTests : TurnClientScenarios
{
    private const string Secret = "north-wind";
    private NatPunchServer _server = null!;

    protected override IPEndPoint ServerEndPoint => _server.UdpEndPoints[0];
    protected override TurnCredentials GoodCredentials => new("alice", "wonderland");
    protected override TurnCredentials BadCredentials => new("alice", "not-it");

    public override ValueTask InitializeAsync()
    {
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Turn = new TurnOptions
            {
                Realm = "natpunch.test",
                Users = new Dictionary<string, string> { ["alice"] = "wonderland" },
                Secret = Secret,
                AllowLoopbackPeers = true,
            },
        });
        _server.Start();
        return ValueTask.CompletedTask;
    }

    public override async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await DisposeServerAsync(_server);
        }
    }

    /// <summary>
    /// Works around a race in <c>NatPunchServer.DisposeAsync</c> (not the TURN client's): when the
    /// server is disposed before a <c>UdpBatchStunLoop</c> thread has reached
    /// <c>SafeHandle.DangerousAddRef</c>, that thread's <see cref="ObjectDisposedException"/> comes
    /// out of <c>DisposeAsync</c>. The server is stopped either way.
    /// </summary>
    internal static async Task DisposeServerAsync(NatPunchServer server)
    {
        try
        {
            await server.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [Fact]
    public async Task SharedSecretCredentialsWork()
    {
        await using RelayClient client = await ConnectAsync(TurnServerTransport.Udp,
            TurnCredentials.FromSharedSecret(Secret, DateTimeOffset.UtcNow.AddHours(1), "carol"));
        await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
    }

    [Fact]
    public async Task ClosingDeletesTheAllocationOnTheServer()
    {
        RelayClient client = await ConnectAsync(TurnServerTransport.Udp);
        await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        _server.Turn!.Snapshot().Allocations.ShouldBe(1);
        await client.DisposeAsync();
        client.State.ShouldBe(TurnClientState.Closed);
        _server.Turn.Snapshot().Allocations.ShouldBe(0);
    }

    [Fact]
    public async Task ForbiddenPeerGivesAClearError()
    {
        await using RelayClient client = await ConnectAsync(TurnServerTransport.Udp);
        await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        TurnException failure = await Should.ThrowAsync<TurnException>(
            () => client.CreatePermissionAsync(IPAddress.Parse("10.1.2.3"), Cancel).WaitAsync(Timeout, Cancel));
        failure.Error.Kind.ShouldBe(TurnErrorKind.Forbidden);
        failure.Error.Code.ShouldBe(403);
    }

    [Fact]
    public async Task UnreachableServerTimesOut()
    {
        await using RelayClient client = await RelayClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 9), GoodCredentials,
            new TurnConnectionOptions
            {
                Client = new TurnClientOptions
                {
                    Retransmission = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(50), MaxSends = 3, FinalWaitMultiplier = 2 },
                },
            }, cancellationToken: Cancel);
        TurnException failure = await Should.ThrowAsync<TurnException>(() => client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel));
        failure.Error.Kind.ShouldBe(TurnErrorKind.Timeout);
        failure.Message.ShouldContain("unreachable");
    }

    [Fact]
    public async Task RefreshesRunOnTheGivenClock()
    {
        var clock = new ManualTimeProvider();
        await using RelayClient client = await RelayClient.ConnectAsync(ServerEndPoint, GoodCredentials,
            new TurnConnectionOptions { LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0) }, clock, cancellationToken: Cancel);
        var results = Channel.CreateUnbounded<TurnOperationResult>();
        client.OperationCompleted += r => results.Writer.TryWrite(r);
        await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        await client.CreatePermissionAsync(IPAddress.Loopback, Cancel).WaitAsync(Timeout, Cancel);
        (await results.Reader.ReadAsync(Cancel)).Operation.ShouldBe(TurnOperation.Allocate);
        (await results.Reader.ReadAsync(Cancel)).Operation.ShouldBe(TurnOperation.CreatePermission);

        // 460 s: past the permission's 4-minute refresh and 75 % of the 600 s allocation.
        clock.Advance(TimeSpan.FromSeconds(460));
        var automatic = new List<TurnOperationResult>();
        while (automatic.Count < 2)
        {
            automatic.Add(await results.Reader.ReadAsync(Cancel).AsTask().WaitAsync(Timeout, Cancel));
        }
        automatic.ShouldAllBe(r => r.IsAutomatic && r.Succeeded);
        automatic.Select(r => r.Operation).Order().ShouldBe([TurnOperation.Refresh, TurnOperation.CreatePermission], ignoreOrder: true);
        client.State.ShouldBe(TurnClientState.Allocated);
    }
}
