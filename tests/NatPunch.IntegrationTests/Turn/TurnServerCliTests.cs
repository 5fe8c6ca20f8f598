using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NatPunch.IntegrationTests.Netcheck;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Relay;
using NatPunch.Rendezvous;
using NatPunch.Testing;
using RelayClient = NatPunch.Relay.TurnClient;

namespace NatPunch.IntegrationTests.Turn;

/// <summary><c>natpunch server</c>'s TURN flags, run as a user runs them.</summary>
public sealed class TurnServerCliTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("--turn-user", "nopassword")]
    [InlineData("--turn-user", ":x")]
    [InlineData("--allow-peer", "10.0.0.0/99")]
    [InlineData("--deny-peer", "not-an-ip")]
    [InlineData("--relay-ip", "not.an.ip")]
    [InlineData("--turn-user", "a:b", "--min-port", "60000", "--max-port", "50000")]
    [InlineData("--turn-no-auth", "--turn-secret", "x")]
    [InlineData("--no-turn", "--turn-user", "a:b")]
    [InlineData("--no-turn", "--turn-secret", "x")]
    [InlineData("--no-turn", "--turn-no-auth")]
    [InlineData("--turn-grant-ttl", "0")]
    [InlineData("--turn-grant-ttl", "soon")]
    public async Task BadTurnFlagsAreUsageErrors(params string[] flags)
    {
        NatpunchProcess.Result run = await NatpunchProcess.RunAsync(TimeSpan.FromSeconds(30), Cancel, ["server", "--listen", "127.0.0.1:0", .. flags]);
        run.ExitCode.ShouldBe(2, run.Output + run.Error);
        run.Error.ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public async Task HelpDescribesTheTurnFlags()
    {
        NatpunchProcess.Result run = await NatpunchProcess.RunAsync(TimeSpan.FromSeconds(30), Cancel, "server", "--help");
        run.ExitCode.ShouldBe(0);
        foreach (string flag in new[] { "--realm", "--turn-user", "--turn-secret", "--turn-no-auth", "--user-quota", "--max-bps", "--max-bps-per-user", "--max-bps-per-ip",
                     "--min-port", "--max-port", "--allow-loopback-peers", "--allow-peer", "--relay-ip", "--no-turn", "--turn-grant-ttl" })
        {
            run.Output.ShouldContain(flag);
        }
        run.Output.ShouldContain("INSECURE");
        run.Output.ShouldContain("until the peer's registration ends");
    }

    [Fact]
    public async Task ServerProcessRelaysForUclientWithinThePortRange()
    {
        Requires.Tool("turnutils_uclient");
        Requires.Tool("turnutils_peer");
        int port = LoggedNatpunchProcess.FreePort(), peerPort = LoggedNatpunchProcess.FreePort();
        using Process server = Start("dotnet", NatpunchProcess.DllPath, "server", "--listen", $"127.0.0.1:{port}", "--realm", "cli.test",
            "--turn-user", "bob:builder", "--allow-loopback-peers", "--min-port", "61000", "--max-port", "61099", "--verbose");
        using Process peer = Start("turnutils_peer", "-L", "127.0.0.1", "-p", peerPort.ToString());
        try
        {
            await WaitForLineAsync(server, "TURN relay enabled");
            ExternalProcess.Result result = await ExternalProcess.RunAsync("turnutils_uclient",
                ["-v", "-u", "bob", "-w", "builder", "-n", "20", "-p", port.ToString(), "-e", "127.0.0.1", "-r", peerPort.ToString(), "127.0.0.1"],
                TimeSpan.FromSeconds(60), Cancel);
            result.ExitCode.ShouldBe(0, result.ToString());
            TurnInteropTests.Summary summary = TurnInteropTests.Summary.Parse(result.Output);
            summary.Lost.ShouldBe(0, result.ToString());
            summary.Received.ShouldBe(summary.Sent);
            result.Output.ShouldContain("relay addr: 127.0.0.1:610", customMessage: result.ToString());
        }
        finally
        {
            Stop(server);
            Stop(peer);
        }
    }

    [Fact]
    public async Task ServerWithoutTurnFlagsGivesRegisteredPeersWorkingRelayCredentials()
    {
        int port = LoggedNatpunchProcess.FreePort();
        // --verbose: not even the debug log may show a grant's password.
        using var server = new LoggedNatpunchProcess("server", "--listen", $"127.0.0.1:{port}", "--token", "t0ken", "--verbose");
        try
        {
            string enabled = await server.WaitForLineAsync("TURN relay enabled", Cancel);
            enabled.ShouldContain("grants to registered peers valid 3600 s");
            await using var peer = new RendezvousClient(new RendezvousClientOptions { Server = $"127.0.0.1:{port}", Name = "zero-conf", Token = "t0ken" });
            TurnGrant grant = (await peer.StartAsync(null, Cancel).WaitAsync(TimeSpan.FromSeconds(10), Cancel)).Turn.ShouldNotBeNull();
            await using (RelayClient relay = await RelayClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port),
                             new TurnCredentials(grant.Username, grant.Password), new TurnConnectionOptions { LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0) },
                             cancellationToken: Cancel))
            {
                RelayAllocation allocation = await relay.AllocateAsync(Cancel).WaitAsync(TimeSpan.FromSeconds(10), Cancel);
                allocation.RelayedAddress.Address.ShouldBe(IPAddress.Loopback);
                // The default peer policy still holds: no relaying to loopback without --allow-loopback-peers.
                TurnException forbidden = await Should.ThrowAsync<TurnException>(
                    () => relay.CreatePermissionAsync(IPAddress.Loopback, Cancel).WaitAsync(TimeSpan.FromSeconds(10), Cancel));
                forbidden.Error.Code.ShouldBe(403);
            }
            string log = server.Log;
            log.ShouldNotContain(grant.Password);
            // With --token only the token's holders get grants: no warning about an open relay.
            log.ShouldNotContain("no --token");
            log.ShouldContain("--turn-secret to keep them valid across restarts");
        }
        finally
        {
            server.Stop();
        }
    }

    [Fact]
    public async Task ServerWithoutTokenWarnsThatAnyoneCanRelay()
    {
        int port = LoggedNatpunchProcess.FreePort();
        using var server = new LoggedNatpunchProcess("server", "--listen", $"127.0.0.1:{port}", "--turn-secret", "s3cret");
        try
        {
            string warning = await server.WaitForLineAsync("no --token", Cancel);
            warning.ShouldContain("anyone who can reach this server can relay");
            server.Stop(); // the whole start-up log is in
            // A fixed secret keeps grants valid across restarts: nothing to say about that.
            server.Log.ShouldNotContain("random secret");
        }
        finally
        {
            server.Stop();
        }
    }

    [Fact]
    public async Task NoTurnServerGivesNoGrantAndRefusesAllocate()
    {
        int port = LoggedNatpunchProcess.FreePort();
        using var server = new LoggedNatpunchProcess("server", "--listen", $"127.0.0.1:{port}", "--no-turn");
        try
        {
            await server.WaitForLineAsync("Serving STUN on TCP", Cancel);
            await using var peer = new RendezvousClient(new RendezvousClientOptions { Server = $"127.0.0.1:{port}", Name = "no-relay" });
            (await peer.StartAsync(null, Cancel).WaitAsync(TimeSpan.FromSeconds(10), Cancel)).Turn.ShouldBeNull();
            await using RelayClient relay = await RelayClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port),
                new TurnCredentials("1:x", "y"), new TurnConnectionOptions { LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0) }, cancellationToken: Cancel);
            TurnException refused = await Should.ThrowAsync<TurnException>(() => relay.AllocateAsync(Cancel).WaitAsync(TimeSpan.FromSeconds(10), Cancel));
            refused.Error.Code.ShouldBe(400);
            server.Log.ShouldNotContain("TURN relay enabled");
        }
        finally
        {
            server.Stop();
        }
    }

    private static Process Start(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info)!;
    }

    private static async Task WaitForLineAsync(Process process, string text)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        // The server logs to stderr.
        while (await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
                _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return;
            }
        }
        throw new InvalidOperationException($"the process ended before logging '{text}'");
    }

    private static void Stop(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
