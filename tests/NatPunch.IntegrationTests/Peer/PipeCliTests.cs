using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using NatPunch.Server;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>The `natpunch listen` / `natpunch connect` contract, as processes on loopback.</summary>
public sealed class PipeCliTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private NatPunchServer _server = null!;

    public ValueTask InitializeAsync()
    {
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Rendezvous = NatPunch.Server.Rendezvous.RendezvousOptions.Default with { Token = "t0ken" },
        });
        _server.Start();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private string ServerAddress => _server.UdpEndPoints[0].ToString();

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task BytesFlowBothWaysAndBothSidesExitZero()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        byte[] fromBob = RandomBytes(3_000_000, 1);
        byte[] fromAlice = RandomBytes(2_000_000, 2);
        Task<PipeProcess.Result> bob = PipeProcess.RunAsync(fromBob, Limit, ct,
            "listen", "--server", ServerAddress, "--id", "bob", "--token", "t0ken", "--allow-loopback", "--json");
        await Task.Delay(1500, ct);
        PipeProcess.Result alice = await PipeProcess.RunAsync(fromAlice, Limit, ct,
            "connect", "--server", ServerAddress, "--id", "alice", "--peer", "bob", "--token", "t0ken", "--allow-loopback", "--json");
        PipeProcess.Result bobResult = await bob;

        alice.ExitCode.ShouldBe(0, alice.Error);
        bobResult.ExitCode.ShouldBe(0, bobResult.Error);
        SHA256.HashData(alice.Output).ShouldBe(SHA256.HashData(fromBob));
        SHA256.HashData(bobResult.Output).ShouldBe(SHA256.HashData(fromAlice));

        JsonElement connected = Events(alice.Error).Single(e => e.GetProperty("event").GetString() == "connected");
        connected.GetProperty("path").GetString().ShouldBe("direct");
        connected.GetProperty("transport").GetString().ShouldBe("udp");
        IPEndPoint.Parse(connected.GetProperty("remote").GetString()!).Port.ShouldBeGreaterThan(0);
        connected.GetProperty("elapsed_ms").GetInt64().ShouldBeGreaterThanOrEqualTo(0);
        JsonElement closed = Events(alice.Error).Single(e => e.GetProperty("event").GetString() == "closed");
        closed.GetProperty("bytes_sent").GetInt64().ShouldBe(fromAlice.Length);
        closed.GetProperty("bytes_received").GetInt64().ShouldBe(fromBob.Length);
    }

    [Fact]
    public async Task EmptyInputOnBothSidesEndsCleanly()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task<PipeProcess.Result> bob = PipeProcess.RunAsync([], Limit, ct,
            "listen", "--server", ServerAddress, "--id", "bob-empty", "--token", "t0ken", "--allow-loopback");
        await Task.Delay(1500, ct);
        PipeProcess.Result alice = await PipeProcess.RunAsync([], Limit, ct,
            "connect", "--server", ServerAddress, "--id", "alice-empty", "--peer", "bob-empty", "--token", "t0ken", "--allow-loopback");
        alice.ExitCode.ShouldBe(0, alice.Error);
        (await bob).ExitCode.ShouldBe(0);
        alice.Error.ShouldContain("connected directly over UDP");
        alice.Output.ShouldBeEmpty();
    }

    [Fact]
    public async Task WrongTokenIsReportedAndExitsOne()
    {
        PipeProcess.Result result = await PipeProcess.RunAsync([], Limit, TestContext.Current.CancellationToken,
            "connect", "--server", ServerAddress, "--id", "mallory", "--peer", "bob", "--token", "wrong", "--allow-loopback");
        result.ExitCode.ShouldBe(1);
        result.Error.ShouldContain("wrong token");
    }

    [Fact]
    public async Task UnknownPeerExitsOneAfterTheTimeout()
    {
        PipeProcess.Result result = await PipeProcess.RunAsync([], Limit, TestContext.Current.CancellationToken,
            "connect", "--server", ServerAddress, "--id", "carol", "--peer", "nobody", "--token", "t0ken", "--timeout", "1", "--allow-loopback");
        result.ExitCode.ShouldBe(1);
        result.Error.ShouldContain("nobody");
    }

    [Fact]
    public async Task UnreachableServerExitsOne()
    {
        PipeProcess.Result result = await PipeProcess.RunAsync([], Limit, TestContext.Current.CancellationToken,
            "connect", "--server", "127.0.0.1:1", "--id", "dave", "--peer", "bob", "--timeout", "2");
        result.ExitCode.ShouldBe(1);
        result.Error.ShouldContain("cannot reach");
    }

    [Theory]
    [InlineData("connect", "--server", "127.0.0.1:3478", "--id", "x")]
    [InlineData("connect", "--server", "127.0.0.1:3478", "--id", "x", "--peer", "y", "--relay", "sometimes")]
    [InlineData("listen", "--id", "x")]
    [InlineData("listen", "--server", "127.0.0.1:3478", "--id", "x", "--timeout", "-5")]
    public async Task UsageErrorsExitTwo(params string[] arguments)
    {
        PipeProcess.Result result = await PipeProcess.RunAsync([], Limit, TestContext.Current.CancellationToken, arguments);
        result.ExitCode.ShouldBe(2, result.Error);
    }

    [Theory]
    [InlineData("--relay", "never", "--turn", "turn:127.0.0.1", "--turn-user", "u:hunter2")]
    [InlineData("--turn", "turns:127.0.0.1?transport=udp", "--turn-user", "u:hunter2")]
    [InlineData("--turn", "turn:127.0.0.1", "--turn-user", "u:hunter2", "--turn-secret", "hunter2")]
    [InlineData("--turn-user", "u:hunter2")]
    [InlineData("--turn", "turn:127.0.0.1", "--turn-user", "hunter2")]
    public async Task TurnUsageErrorsExitTwoAndNeverShowThePassword(params string[] turn)
    {
        PipeProcess.Result result = await PipeProcess.RunAsync([], Limit, TestContext.Current.CancellationToken,
            ["connect", "--server", "127.0.0.1:3478", "--id", "x", "--peer", "y", .. turn]);
        result.ExitCode.ShouldBe(2, result.Error);
        result.Error.ShouldContain("--turn");
        result.Error.ShouldNotContain("hunter2");
    }

    private static IEnumerable<JsonElement> Events(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement);
}
