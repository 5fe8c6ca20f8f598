// These exercise the client against coturn as the relay (issue 4, item 5): `natpunch listen` and
// `natpunch connect` with --relay only and --turn pointing at coturn's turnserver, the NatPunch
// server (its TURN switched off) only introducing the peers.

using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using NatPunch.IntegrationTests.Coturn;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>listen/connect piping through coturn as the TURN relay, over UDP and TCP to it, and a refused password.</summary>
public sealed class CoturnRelaySessionTests : IAsyncLifetime
{
    private const string User = "u";
    private const string Password = "p";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private CoturnServer? _coturn;
    private NatPunchServer? _server;

    public async ValueTask InitializeAsync()
    {
        Requires.Tool("turnserver");
        // Verbose: coturn then logs each ALLOCATE and TCP connection, which the tests check.
        _coturn = await CoturnServer.StartAsync(CoturnSettings.Relay(User, Password) with { Verbose = true }, TestContext.Current.CancellationToken);
        // Rendezvous and STUN only (--no-turn): a relayed path can then only be coturn's.
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Turn = TurnOptions.Default with { Enabled = false },
        });
        _server.Start();
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        if (_coturn is not null)
        {
            await _coturn.DisposeAsync();
        }
    }

    private string ServerAddress => _server!.UdpEndPoints[0].ToString();

    private CoturnServer Coturn => _coturn!;

    private string TurnUri(string transport) => $"turn:127.0.0.1:{Coturn.Port}?transport={transport}";

    /// <summary>
    /// listen/connect arguments for relay-only through coturn. --allow-loopback because every
    /// address here, the relayed ones included, is 127.0.0.1.
    /// </summary>
    private string[] Arguments(string command, string id, string? peer, string transport, string password) =>
    [
        command, "--server", ServerAddress, "--id", id, .. peer is null ? Array.Empty<string>() : ["--peer", peer],
        "--relay", "only", "--turn", TurnUri(transport), "--turn-user", $"{User}:{password}",
        "--timeout", "20", "--allow-loopback", "--json",
    ];

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [InlineData("udp")]
    [InlineData("tcp")]
    public async Task BytesFlowBothWaysThroughCoturn(string transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        byte[] fromBob = RandomBytes(2_000_000, 11);
        byte[] fromAlice = RandomBytes(2_100_000, 12);
        Task<PipeProcess.Result> bob = PipeProcess.RunAsync(fromBob, Limit, ct, Arguments("listen", $"bob-{transport}", null, transport, Password));
        await Task.Delay(1500, ct);
        PipeProcess.Result alice = await PipeProcess.RunAsync(fromAlice, Limit, ct, Arguments("connect", $"alice-{transport}", $"bob-{transport}", transport, Password));
        PipeProcess.Result bobResult = await bob;

        string diagnostics = $"alice:\n{alice.Error}\nbob:\n{bobResult.Error}\ncoturn:\n{Coturn.Log}";
        alice.ExitCode.ShouldBe(0, diagnostics);
        bobResult.ExitCode.ShouldBe(0, diagnostics);
        SHA256.HashData(alice.Output).ShouldBe(SHA256.HashData(fromBob), diagnostics);
        SHA256.HashData(bobResult.Output).ShouldBe(SHA256.HashData(fromAlice), diagnostics);

        foreach ((string side, PipeProcess.Result result) in new[] { ("alice", alice), ("bob", bobResult) })
        {
            List<JsonElement> connected = JsonEvents.In(result.Error).Where(e => e.GetProperty("event").GetString() == "connected").ToList();
            connected.ShouldNotBeEmpty($"{side} reported no connected event:\n{result.Error}");
            // --relay only: every path, the first and any later one, goes through the relay.
            connected.ShouldAllBe(e => e.GetProperty("path").GetString() == "relay", $"{side}:\n{result.Error}");
            // Assumed: "transport" is how our packets travel, i.e. to the relay for a relayed path.
            connected[0].GetProperty("transport").GetString().ShouldBe(transport, $"{side}:\n{result.Error}");
            JsonElement closed = JsonEvents.In(result.Error).Single(e => e.GetProperty("event").GetString() == "closed");
            closed.GetProperty("bytes_sent").GetInt64().ShouldBe(side == "alice" ? fromAlice.Length : fromBob.Length);
            closed.GetProperty("bytes_received").GetInt64().ShouldBe(side == "alice" ? fromBob.Length : fromAlice.Length);
        }

        // The relay really was coturn: an allocation for each peer, over TCP when asked.
        Coturn.Log.Split('\n').Count(line => line.Contains($"user <{User}>: incoming packet ALLOCATE processed, success", StringComparison.Ordinal))
            .ShouldBeGreaterThanOrEqualTo(2, Coturn.Log);
        if (transport == "tcp")
        {
            Coturn.Log.ShouldContain("tcp or tls connected to", customMessage: Coturn.Log);
        }
        (alice.Error + bobResult.Error).ShouldNotContain($"{User}:{Password}");
    }

    [Fact]
    public async Task AWrongTurnPasswordExitsOneNamingTheTurnServer()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        const string wrong = "not-the-password-42";
        using var stopBob = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task<PipeProcess.Result> bob = PipeProcess.RunAsync([], Limit, stopBob.Token, Arguments("listen", "bob-refused", null, "udp", Password));
        await Task.Delay(1500, ct);

        PipeProcess.Result alice = await PipeProcess.RunAsync([], Limit, ct, Arguments("connect", "alice-refused", "bob-refused", "udp", wrong));

        // The listener has nobody to talk to now: it has ended ("left during the introduction") or is killed.
        await stopBob.CancelAsync();
        try
        {
            await bob;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException && !ct.IsCancellationRequested)
        {
        }
        alice.ExitCode.ShouldBe(1, $"{alice.Error}\ncoturn:\n{Coturn.Log}");
        JsonElement error = JsonEvents.In(alice.Error).Last(e => e.GetProperty("event").GetString() == "error");
        error.GetProperty("message").GetString()!.ShouldContain("the TURN server refused the credentials", customMessage: alice.Error);
        alice.Error.ShouldNotContain(wrong);
        Coturn.Log.ShouldContain($"user {User} credentials are incorrect", customMessage: Coturn.Log);
    }
}
