using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NatPunch.IntegrationTests.Netcheck;
using NatPunch.Testing;

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
        foreach (string flag in new[] { "--realm", "--turn-user", "--turn-secret", "--turn-no-auth", "--user-quota", "--max-bps",
                     "--min-port", "--max-port", "--allow-loopback-peers", "--allow-peer", "--relay-ip" })
        {
            run.Output.ShouldContain(flag);
        }
        run.Output.ShouldContain("INSECURE");
    }

    [Fact]
    public async Task ServerProcessRelaysForUclientWithinThePortRange()
    {
        Requires.Tool("turnutils_uclient");
        Requires.Tool("turnutils_peer");
        int port = FreePort(), peerPort = FreePort();
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

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
