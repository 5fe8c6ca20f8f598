using System.Globalization;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// TCP hole punching (docs/tcp-punching.md). The udpblock site drops every UDP packet from its LAN
/// and masquerades TCP like the port kind (port-restricted); no UDP path can exist, and before TCP
/// punching its sessions all went through the relay. With it, a UDP-blocked end and an end behind no
/// NAT, a full cone, an address-restricted or a port-restricted NAT (the cone kinds are cones for UDP
/// only: for TCP all three are port-restricted masquerades, so simultaneous open is what gets through)
/// connect directly over TCP in both roles, in at least 95 % of attempts (<c>NATPUNCH_LAB_ATTEMPTS</c>
/// per pair and role, 3 by default), clean and at 5 % loss; 20 MB each way cross the punched connection
/// alone at 5 % loss with nothing sent again by the streams (TCP alone recovers: no second reliability
/// layer); and the session moves from TCP to UDP when UDP comes back, losing nothing.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class TcpPunchingTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private static readonly TimeSpan DirectWithin = TimeSpan.FromSeconds(10);

    private static readonly (string Listener, string Connector)[] Pairs =
    [
        ("open1", "udpblock1"), ("udpblock1", "open1"), ("full1", "udpblock1"), ("udpblock1", "full1"),
        ("addr1", "udpblock1"), ("udpblock1", "addr1"), ("port1", "udpblock1"), ("udpblock1", "port1"),
    ];

    [Fact]
    public async Task UdpBlockedPeersConnectDirectlyOverTcp()
    {
        lab.Require();
        await RunAllAsync("tcp-punching", PairAttempt.AttemptsPerPair(3));
    }

    [Fact]
    public async Task UdpBlockedPeersConnectDirectlyOverTcpAtFivePercentLoss()
    {
        lab.Require();
        await using LabKnob loss = await LabKnob.LossAsync(lab, 5);
        await RunAllAsync("tcp-punching-loss5", PairAttempt.AttemptsPerPair(3));
    }

    /// <summary>
    /// With <c>--relay never</c> the punched connection is the only path: 20 MB each way over it at 5 %
    /// loss, compared by SHA-256, and the streams sent nothing twice (their <c>bytes_retransmitted</c>):
    /// TCP recovered every loss, and nothing above it retransmitted.
    /// </summary>
    [Fact]
    public async Task ThePunchedTcpPathAloneCarries20MegabytesEachWayAtFivePercentLossWithoutASecondReliabilityLayer()
    {
        lab.Require();
        Site listener = Site.Parse("port1"), connector = Site.Parse("udpblock1");
        await using LabKnob loss = await LabKnob.LossAsync(lab, 5);
        TransferResult result = await Transfer.RunAsync(lab, files, listener, connector,
            new PipeRunOptions { WorkDirectory = files.Directory.FullName, TimeoutSeconds = 30, Relay = "never" }, limit: TimeSpan.FromSeconds(180),
            connectorPaths: [new ExpectedPath("direct", "tcp", lab.PublicIp(listener.Kind))],
            listenerPaths: [new ExpectedPath("direct", "tcp", lab.PublicIp(connector.Kind))]);
        result.BytesRetransmitted.ShouldBe(0, $"the streams retransmitted on a TCP path: {result.Summary}");
        LabReport.Write("tcp-punching", result.Summary + string.Create(CultureInfo.InvariantCulture,
            $" (--relay never, 5 % loss; bytes the streams sent again: {result.BytesRetransmitted})"));
    }

    /// <summary>Without TCP punching a UDP-blocked end has no direct path: the same pair ends on the relay.</summary>
    [Fact]
    public async Task WithoutTcpPunchingTheyEndOnTheRelay()
    {
        lab.Require();
        PairAttempt result = await PairAttempt.RunAsync(lab, files, Site.Parse("port1"), Site.Parse("udpblock1"), TimeSpan.FromSeconds(4),
            relayExpected: true, arguments: ["--no-tcp-punch"]);
        result.FirstPath.ShouldBe("relay", result.Diagnostics);
        result.ToDirect.ShouldBeNull(result.Diagnostics);
        LabReport.Write("tcp-punching", $"port1 <- udpblock1 with --no-tcp-punch: first path {result.FirstPath} ({result.Transport})");
    }

    /// <summary>
    /// port1 (connector) with all UDP dropped at its router, open1 (listener): the session starts on a
    /// punched TCP connection; 20 MB each way fed at 1 MB/s; after 3 s UDP is let through again, and
    /// within 15 s both ends report a second, direct UDP path (the agents' upgrade rounds, every 5 s);
    /// the transfer ends intact: what was in flight on TCP when the path moved is sent again on UDP.
    /// </summary>
    [Fact]
    public async Task TheSessionMovesFromTcpToUdpWhenUdpComesBack()
    {
        lab.Require();
        Site listener = new("open", 1), connector = new("port", 1);
        string timeline = "";
        TransferResult result;
        await using (LabKnob block = await LabKnob.BlockUdpAsync(lab, "port"))
        {
            result = await Transfer.RunAsync(lab, files, listener, connector,
                new PipeRunOptions { WorkDirectory = files.Directory.FullName, BytesPerSecond = 1_000_000, TimeoutSeconds = 30, Relay = "never" },
                limit: TimeSpan.FromSeconds(120),
                connectedEvents: 2,
                connectorPaths: [new ExpectedPath("direct", "tcp", lab.PublicIp(listener.Kind)), ExpectedPath.Direct(lab.PublicIp(listener.Kind))],
                listenerPaths: [new ExpectedPath("direct", "tcp", lab.PublicIp(connector.Kind)), ExpectedPath.Direct(lab.PublicIp(connector.Kind))],
                during: async run =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(3));
                    (run.Listener!.HasExited || run.Connector!.HasExited).ShouldBeFalse($"a side ended before UDP came back\n{run.Diagnostics()}");
                    await block.UndoAsync();
                    TimeSpan unblocked = run.Clock.Elapsed;
                    PeerEvent? connectorUdp = await run.Connector.WaitForEventAsync("connected", TimeSpan.FromSeconds(15), occurrence: 2);
                    PeerEvent? listenerUdp = await run.Listener.WaitForEventAsync("connected", TimeSpan.FromSeconds(15) - (run.Clock.Elapsed - unblocked), occurrence: 2);
                    connectorUdp.ShouldNotBeNull($"connect: no second connected event within 15 s of UDP coming back\n{run.Diagnostics()}");
                    listenerUdp.ShouldNotBeNull($"listen: no second connected event within 15 s of UDP coming back\n{run.Diagnostics()}");
                    timeline = string.Create(CultureInfo.InvariantCulture,
                        $"UDP unblocked after 3 s on TCP; on UDP: connector {(connectorUdp.At - unblocked).TotalSeconds:0.0} s, listener {(listenerUdp.At - unblocked).TotalSeconds:0.0} s later");
                    (run.Listener.HasExited || run.Connector.HasExited).ShouldBeFalse($"the transfer ended before the move (the inputs ran out too early?)\n{timeline}\n{run.Diagnostics()}");
                });
        }
        LabReport.Write("tcp-punching", $"{result.Summary}\n    {timeline}");
    }

    private async Task RunAllAsync(string report, int attempts)
    {
        List<PairRun> runs = await PairRuns.RunAsync(lab, files, Pairs, attempts, DirectWithin);
        List<string> notTcp = [.. runs.SelectMany(r => r.Attempts.Where(a => a.FirstPath == "direct" && a.Transport != "tcp")
            .Select(a => $"{r.Listener} <- {r.Connector}: direct over {a.Transport}, where UDP is blocked\n{a.Diagnostics}"))];
        PairRuns.ReportAndAssertMostlyDirect(report, runs, DirectWithin,
        [
            ("transport", a => PairRuns.Tally(a.Select(x => x.Transport))),
        ]);
        notTcp.ShouldBeEmpty(string.Join("\n\n", notTcp));
    }
}
