using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// NATs that clash (lab kinds clash, clashb, cgclash: Linux masquerade with no drop of WAN input, each
/// behind an ISP router): a packet of one peer that reaches the other's NAT before that NAT's host has
/// sent to it leaves a conntrack entry there, and the host's own packet then leaves from another port.
/// With clash avoidance (the traceroute, the low-TTL opening, the hold) port-restricted ↔ port-restricted
/// across two such routers, and a carrier NAT in front of a home NAT (both of this kind) against one,
/// connect directly in both roles in at least 95 % of attempts (<c>NATPUNCH_LAB_ATTEMPTS</c> per pair
/// and role, 5 by default: 20 attempts, one miss allowed); without it they end on the relay.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class ClashingNatTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private static readonly TimeSpan DirectWithin = TimeSpan.FromSeconds(10);

    private static readonly (string Listener, string Connector)[] Pairs =
    [
        ("clash1", "clashb1"), ("clashb1", "clash1"), ("cgclash1", "clash1"), ("clash1", "cgclash1"),
    ];

    [Fact]
    public async Task PortRestrictedNatsThatClashConnectDirectly()
    {
        lab.Require();
        await RunAllAsync("clashing-nats", PairAttempt.AttemptsPerPair(5));
    }

    [Fact]
    public async Task PortRestrictedNatsThatClashConnectDirectlyAtFivePercentLoss()
    {
        lab.Require();
        await using LabKnob loss = await LabKnob.LossAsync(lab, 5);
        await RunAllAsync("clashing-nats-loss5", PairAttempt.AttemptsPerPair(5));
    }

    /// <summary>With <c>--relay never</c> the punched path is the only one: 20 MB each way over it, compared by SHA-256.</summary>
    [Fact]
    public async Task ThePunchedPathAloneCarries20MegabytesEachWay()
    {
        lab.Require();
        TransferResult result = await Transfer.RunAsync(lab, files, Site.Parse("clash1"), Site.Parse("cgclash1"),
            new PipeRunOptions { WorkDirectory = files.Directory.FullName, TimeoutSeconds = 30, Relay = "never" }, limit: TimeSpan.FromSeconds(120));
        LabReport.Write("clashing-nats", result.Summary + " (--relay never)");
    }

    /// <summary>Without clash avoidance the first checks clash: the same pair ends on the relay (the lab reproduces the problem).</summary>
    [Fact]
    public async Task WithoutClashAvoidanceTheyEndOnTheRelay()
    {
        lab.Require();
        PairAttempt result = await PairAttempt.RunAsync(lab, files, Site.Parse("clash1"), Site.Parse("clashb1"), TimeSpan.FromSeconds(4),
            arguments: ["--no-clash-avoidance"]);
        result.FirstPath.ShouldBe("relay", result.Diagnostics);
        result.ToDirect.ShouldBeNull(result.Diagnostics);
        LabReport.Write("clashing-nats", $"clash1 <- clashb1 with --no-clash-avoidance: first path {result.FirstPath}, no direct path within 4 s");
    }

    private async Task RunAllAsync(string report, int attempts)
    {
        List<PairRun> runs = await PairRuns.RunAsync(lab, files, Pairs, attempts, DirectWithin);
        PairRuns.ReportAndAssertMostlyDirect(report, runs, DirectWithin,
        [
            ("routers before the peer", a => PairRuns.Tally(a.Select(x => x.RoutersBeforePeer))),
            ("peer's NAT answers", a => PairRuns.Tally(a.Select(x => x.PeerNatAnswers))),
            ("held", a => PairRuns.Tally(a.Select(x => x.HeldForPeerOpening))),
        ]);
    }
}
