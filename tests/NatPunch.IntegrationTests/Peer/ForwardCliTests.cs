using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using NatPunch.IntegrationTests.Netcheck;

namespace NatPunch.IntegrationTests.Peer;

/// <summary><c>natpunch expose</c>, <c>forward</c> and <c>ping</c> as processes through a server on loopback.</summary>
public sealed class ForwardCliTests : LoopbackServerTests
{
    private string ServerAddress => Server.UdpEndPoints[0].ToString();

    /// <summary><c>natpunch expose</c> of <paramref name="targetPort"/> as <paramref name="name"/>, once it has registered.</summary>
    private async Task<LoggedNatpunchProcess> ExposeAsync(string name, int targetPort, CancellationToken ct)
    {
        var process = new LoggedNatpunchProcess("expose", "--server", ServerAddress, "--id", name, "--allow-any", "--allow-loopback", "--json", targetPort.ToString());
        await process.WaitForLineAsync("\"event\":\"exposing\"", ct);
        return process;
    }

    private async Task<(LoggedNatpunchProcess Process, int Port)> ForwardAsync(string peer, CancellationToken ct)
    {
        int port = LoggedNatpunchProcess.FreePort(ProtocolType.Tcp);
        var process = new LoggedNatpunchProcess("forward", "--server", ServerAddress, "--peer", peer, "--allow-loopback", "--json", port.ToString());
        await process.WaitForLineAsync("\"event\":\"forwarding\"", ct);
        return (process, port);
    }

    [Fact]
    public async Task AHundredParallelConnectionsCrossOneSessionHalfClosedBothWaysWithEveryByteIntact()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var service = new HashingTcpService();
        using LoggedNatpunchProcess expose = await ExposeAsync("svc-100", service.Port, ct);
        (LoggedNatpunchProcess forward, int port) = await ForwardAsync("svc-100", ct);
        using (forward)
        {
            Task<bool>[] asks = [.. Enumerable.Range(0, 100).Select(i =>
            {
                byte[] request = new byte[20_000 + (i * 1000)];
                new Random(i).NextBytes(request);
                return HashingTcpService.AskAsync(port, request, ct);
            })];
            bool[] intact = await Task.WhenAll(asks).WaitAsync(TimeSpan.FromSeconds(90), ct);

            intact.ShouldAllBe(ok => ok, $"forward:\n{forward.Log}\nexpose:\n{expose.Log}");
            service.Served.ShouldBe(100);
            await forward.WaitForLineAsync("\"connection\":100,", ct);
            List<JsonElement> opened = [.. JsonEvents.In(forward.Log).Where(e => e.GetProperty("event").GetString() == "stream_open")];
            opened.Count.ShouldBe(100);
            opened.Select(e => e.GetProperty("stream").GetUInt32()).Distinct().Count().ShouldBe(100);
            // One session carried them all: one introduction on each side.
            JsonEvents.In(expose.Log).Count(e => e.GetProperty("event").GetString() == "peer_connected").ShouldBe(1);
        }
    }

    [Fact]
    public async Task ATargetThatRefusesClosesTheLocalConnectionAndBothSidesLogWhy()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        int dead = LoggedNatpunchProcess.FreePort(ProtocolType.Tcp);
        using LoggedNatpunchProcess expose = await ExposeAsync("svc-dead", dead, ct);
        (LoggedNatpunchProcess forward, int port) = await ForwardAsync("svc-dead", ct);
        using (forward)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
            int read;
            try
            {
                read = await client.ReceiveAsync(new byte[16], SocketFlags.None, ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), ct);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                read = 0;
            }
            read.ShouldBe(0); // closed, nothing delivered

            string there = await expose.WaitForLineAsync("\"event\":\"stream_refused\"", ct);
            there.ShouldContain("refused the connection");
            there.ShouldContain("\"status\":\"refused\"");
            string here = await forward.WaitForLineAsync("\"event\":\"stream_refused\"", ct);
            here.ShouldContain($"127.0.0.1:{dead} refused the connection");
        }
    }

    [Fact]
    public async Task PingReportsThePathAndEveryRoundTrip()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var service = new HashingTcpService();
        using LoggedNatpunchProcess expose = await ExposeAsync("svc-ping", service.Port, ct);

        NatpunchProcess.Result ping = await NatpunchProcess.RunAsync(TimeSpan.FromSeconds(60), ct,
            "ping", "--server", ServerAddress, "--peer", "svc-ping", "--allow-loopback", "--json", "--count", "4", "--interval", "0.2");

        ping.ExitCode.ShouldBe(0, ping.Error);
        List<JsonElement> results = JsonEvents.In(ping.Output);
        List<JsonElement> pongs = [.. results.Where(e => e.GetProperty("event").GetString() == "pong")];
        pongs.Count.ShouldBe(4, ping.Output);
        pongs.Select(e => e.GetProperty("seq").GetInt32()).ShouldBe([1, 2, 3, 4]);
        pongs.ShouldAllBe(e => e.GetProperty("path").GetString() == "direct" && e.GetProperty("rtt_ms").GetDouble() > 0);
        JsonElement summary = results.Single(e => e.GetProperty("event").GetString() == "summary");
        summary.GetProperty("sent").GetInt32().ShouldBe(4);
        summary.GetProperty("received").GetInt32().ShouldBe(4);
        summary.GetProperty("loss_percent").GetDouble().ShouldBe(0);
    }

    [Theory]
    [InlineData("expose", "--id", "x", "8080")]                       // who may reach it is not said
    [InlineData("expose", "--id", "x", "--allow-any", "host:")]       // no port
    [InlineData("forward", "--peer", "x", "localhost:80")]            // BIND must be an address
    [InlineData("ping", "--peer", "x", "--count", "-1")]
    public async Task UsageErrorsExitTwoWithASentence(params string[] arguments)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatpunchProcess.Result result = await NatpunchProcess.RunAsync(TimeSpan.FromSeconds(30), ct, [arguments[0], "--server", ServerAddress, .. arguments[1..]]);
        result.ExitCode.ShouldBe(2, result.Error);
        result.Error.ShouldContain("natpunch: ");
        result.Error.ShouldContain($"Try 'natpunch {arguments[0]} --help'.");
    }
}
