using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Turn;

/// <summary>An IPv6 relay (REQUESTED-ADDRESS-FAMILY, uclient -x) for a peer on ::1, the client on ::1 or on 127.0.0.1.</summary>
public sealed class TurnIPv6InteropTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task UclientGetsAnIPv6Relay(bool overTcp, bool clientOverIPv4)
    {
        Requires.Tool("turnutils_uclient");
        Requires.Tool("turnutils_peer");
        await using var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.IPv6Loopback, 0), new IPEndPoint(IPAddress.Loopback, 0)],
            Turn = new TurnOptions { Users = new Dictionary<string, string> { ["alice"] = "wonderland" }, AllowLoopbackPeers = true },
        });
        server.Start();
        int peerPort;
        using (var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            peerPort = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        using Process peer = Process.Start(new ProcessStartInfo("turnutils_peer", ["-L", "::1", "-p", peerPort.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        peer.OutputDataReceived += (_, _) => { };
        peer.ErrorDataReceived += (_, _) => { };
        peer.BeginOutputReadLine();
        peer.BeginErrorReadLine();
        try
        {
            await Task.Delay(300, TestContext.Current.CancellationToken);
            string[] transport = overTcp ? ["-t"] : [];
            ExternalProcess.Result result = await ExternalProcess.RunAsync("turnutils_uclient",
                [.. transport, "-x", "-u", "alice", "-w", "wonderland", "-n", "20", "-p", server.UdpEndPoints[clientOverIPv4 ? 1 : 0].Port.ToString(),
                    "-e", "::1", "-r", peerPort.ToString(), clientOverIPv4 ? "127.0.0.1" : "::1"],
                TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            result.ExitCode.ShouldBe(0, result.ToString());
            TurnInteropTests.Summary summary = TurnInteropTests.Summary.Parse(result.Output);
            summary.Sent.ShouldBeGreaterThan(0);
            summary.Received.ShouldBe(summary.Sent, result.ToString());
            summary.Lost.ShouldBe(0, result.ToString());
        }
        finally
        {
            peer.Kill();
            await peer.WaitForExitAsync();
        }
    }
}
