using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Turn;

/// <summary>
/// Our TURN relay against coturn's own test clients on loopback: turnutils_peer echoes what it is
/// sent, turnutils_uclient allocates, installs permissions and channels and counts what comes back.
/// </summary>
public sealed partial class TurnInteropTests : IAsyncLifetime
{
    private const string User = "alice";
    private const string Password = "wonderland";
    private const string Secret = "north-wind";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);

    private NatPunchServer _server = null!;
    // With a certificate the server's TCP port speaks TLS too (uclient -S: RFC 8656 turns:).
    private readonly TestCertificate _certificate = TestCertificate.Create("localhost", "127.0.0.1");
    private Process _peer = null!;
    private int _peerPort;

    public async ValueTask InitializeAsync()
    {
        Requires.Tool("turnutils_uclient");
        Requires.Tool("turnutils_peer");
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            TlsCertificateFile = _certificate.CertificatePath,
            TlsKeyFile = _certificate.KeyPath,
            Turn = new TurnOptions
            {
                Realm = "natpunch.test",
                Users = new Dictionary<string, string> { [User] = Password },
                Secret = Secret,
                AllowLoopbackPeers = true,
            },
        });
        _server.Start();
        _peerPort = FreeUdpPort();
        _peer = Process.Start(new ProcessStartInfo("turnutils_peer", ["-L", "127.0.0.1", "-p", _peerPort.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        _peer.OutputDataReceived += (_, _) => { };
        _peer.ErrorDataReceived += (_, _) => { };
        _peer.BeginOutputReadLine();
        _peer.BeginErrorReadLine();
        await Task.Delay(300);
    }

    public async ValueTask DisposeAsync()
    {
        if (_peer is not null)
        {
            try
            {
                _peer.Kill();
                await _peer.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
            }
            _peer.Dispose();
        }
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        _certificate.Dispose();
    }

    public static TheoryData<string, string[]> Modes => new()
    {
        { "udp, long-term", ["-u", User, "-w", Password] },
        { "tcp, long-term", ["-t", "-u", User, "-w", Password] },
        { "udp, client-to-client", ["-y", "-u", User, "-w", Password] },
        { "tcp, client-to-client", ["-t", "-y", "-u", User, "-w", Password] },
        { "udp, send indications", ["-s", "-u", User, "-w", Password] },
        { "udp, REST secret", ["-W", Secret] },
        { "tcp, REST secret, client-to-client", ["-t", "-y", "-W", Secret] },
        { "udp, DONT-FRAGMENT, no RTCP", ["-g", "-c", "-u", User, "-w", Password] },
        { "tls, long-term", ["-t", "-S", "-u", User, "-w", Password] },
        { "tls, REST secret, client-to-client", ["-t", "-S", "-y", "-W", Secret] },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task UclientRelaysEveryPacket(string mode, string[] credentials)
    {
        var result = await RunClientAsync([.. credentials, "-n", "30"]);
        result.ExitCode.ShouldBe(0, $"{mode}\n{result}");
        Summary summary = Summary.Parse(result.Output);
        summary.Sent.ShouldBeGreaterThan(0, $"{mode}\n{result}");
        summary.Received.ShouldBe(summary.Sent, $"{mode}\n{result}");
        summary.Lost.ShouldBe(0, $"{mode}\n{result}");
        _server.Turn!.Snapshot().Counters.ShouldContain("allocations=");
        if (mode.StartsWith("tls", StringComparison.Ordinal))
        {
            // uclient also tries TLS 1.0 and 1.1 on some connections, which the server refuses (counted as failures).
            _server.Counters.TlsHandshakes.ShouldBeGreaterThan(0, mode);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WrongCredentialsAreRefused(bool overTcp)
    {
        string[] transport = overTcp ? ["-t"] : [];
        var wrongPassword = await RunClientAsync([.. transport, "-u", User, "-w", "not-the-password", "-n", "3"]);
        wrongPassword.ExitCode.ShouldNotBe(0, wrongPassword.ToString());
        Summary.TryParse(wrongPassword.Output, out _).ShouldBeFalse(wrongPassword.ToString());
        var wrongSecret = await RunClientAsync([.. transport, "-W", "south-wind", "-n", "3"]);
        wrongSecret.ExitCode.ShouldNotBe(0, wrongSecret.ToString());
        _server.Turn!.Snapshot().Allocations.ShouldBe(0);
    }

    private Task<ExternalProcess.Result> RunClientAsync(string[] arguments) =>
        ExternalProcess.RunAsync("turnutils_uclient",
            [.. arguments, "-p", _server.UdpEndPoints[0].Port.ToString(), "-e", "127.0.0.1", "-r", _peerPort.ToString(), "127.0.0.1"],
            ToolTimeout, TestContext.Current.CancellationToken);

    private static int FreeUdpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>uclient's closing lines: "tot_send_msgs=N, tot_recv_msgs=N" and "Total lost packets N (P%)".</summary>
    public readonly partial record struct Summary(int Sent, int Received, int Lost)
    {
        public static Summary Parse(string output)
        {
            TryParse(output, out Summary summary).ShouldBeTrue($"no uclient summary in:\n{output}");
            return summary;
        }

        public static bool TryParse(string output, out Summary summary)
        {
            summary = default;
            Match totals = Totals().Match(output);
            Match lost = LostLine().Match(output);
            if (!totals.Success || !lost.Success)
            {
                return false;
            }
            summary = new Summary(int.Parse(totals.Groups[1].Value), int.Parse(totals.Groups[2].Value), int.Parse(lost.Groups[1].Value));
            return true;
        }

        [GeneratedRegex(@"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)")]
        private static partial Regex Totals();

        [GeneratedRegex(@"Total lost packets (\d+) \(")]
        private static partial Regex LostLine();
    }
}
