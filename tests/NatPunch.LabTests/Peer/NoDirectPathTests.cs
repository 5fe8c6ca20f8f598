using NatPunch.LabTests.Discovery;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// Pairs that cannot connect directly (RFC 5128 §3.3; docs/connection-time.md, "Which pairs
/// fail"): a symmetric NAT against a port-restricted cone without port probing, and two different symmetric NATs. With
/// <c>--relay never</c> on both ends (with the default, auto, they meet through the relay:
/// RelayPairTests), <c>connect</c> must give up within <c>--timeout</c>, exit 1 and say why on stderr,
/// and <c>listen</c> must not hang. Behind one symmetric NAT, though, two hosts connect over their LAN.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class NoDirectPathTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private const int TimeoutSeconds = 8;

    /// <summary>Port probing connects these directly (PortProbingTests); without it there is no direct path.</summary>
    [Theory]
    [InlineData("port1", "sym1")]
    [InlineData("sym1", "port1")]
    public async Task SymmetricAndPortRestrictedWithoutPortProbingFailWithAReason(string listener, string connector)
    {
        lab.Require();
        await ExpectNoDirectPathAsync(Site.Parse(listener), Site.Parse(connector), ["--no-port-probing"]);
    }

    /// <summary>
    /// The lab has one symmetric router; for two different symmetric NATs the carrier NAT of the
    /// cgnat site is made symmetric for this test (checked with netcheck first).
    /// </summary>
    [Fact]
    public async Task TwoSymmetricNatsFailWithAReason()
    {
        lab.Require();
        await using LabKnob symmetric = await LabKnob.SymmetricCarrierNatAsync(lab);
        DiscoveryRun check = await DiscoveryRun.RunAsync(lab, "cgnat", host: 1, LabFixture.OurPort, withNatdiscovery: false);
        string verdict = $"netcheck from cgnat1 with a symmetric carrier NAT: {check.Ours?.ToString() ?? "-"} ({check.String("nat_type")})";
        LabReport.Write("no-direct", verdict);
        check.String("nat_type").ShouldBe("symmetric", $"{verdict}\n{check.Diagnostics(lab.Server)}");

        await ExpectNoDirectPathAsync(new Site("cgnat", 1), new Site("sym", 1));
    }

    [Fact]
    public async Task TwoHostsBehindOneSymmetricNatConnectOverTheirLan()
    {
        lab.Require();
        TransferResult result = await Transfer.RunAsync(lab, files, new Site("sym", 1), new Site("sym", 2));
        LabReport.Write("direct-clean", result.Summary);
    }

    private async Task ExpectNoDirectPathAsync(Site listener, Site connector, string[]? arguments = null)
    {
        await using PipeRun run = await PipeRun.StartAsync(lab, listener, connector, new PipeRunOptions
        {
            WorkDirectory = files.Directory.FullName,
            TimeoutSeconds = TimeoutSeconds,
            Relay = "never",
            ListenerArguments = arguments ?? [],
            ConnectorArguments = arguments ?? [],
        });
        // --timeout runs from the connector's start; dotnet's own start-up comes on top (seconds on a loaded machine).
        bool connectorEnded = await run.Connector!.WaitForExitAsync(TimeSpan.FromSeconds(TimeoutSeconds + 20));
        TimeSpan connectorTook = (run.Connector.ExitedAt ?? run.Clock.Elapsed) - run.Connector.StartedAt;
        // The listener learns through the rendezvous that the connector gave up.
        bool listenerEnded = await run.Listener!.WaitForExitAsync(TimeSpan.FromSeconds(15));
        string why = run.Diagnostics();
        connectorEnded.ShouldBeTrue($"connect still runs {TimeoutSeconds + 20} s after its start with --timeout {TimeoutSeconds}\n{why}");
        listenerEnded.ShouldBeTrue($"listen still runs 15 s after the connector gave up (hangs)\n{why}");

        run.Connector.ExitCode.ShouldBe(1, why);
        run.Connector.EventsNamed("connected").ShouldBeEmpty(why);
        run.Listener.EventsNamed("connected").ShouldBeEmpty(why);
        string reason = run.Connector.EventsNamed("error").ShouldHaveSingleItem(why).String("message") ?? "";
        reason.ShouldContain("no path to", Case.Insensitive, why);
        reason.ShouldContain("--relay never forbids the relay", Case.Insensitive, why);
        // Every pair here has a symmetric NAT, which the mapping tests (the server has an alternate address) find.
        reason.ShouldContain("public port per destination", Case.Insensitive, why);
        run.Listener.ExitCode.ShouldBe(1, why);
        string listenerReason = run.Listener.EventsNamed("error").ShouldHaveSingleItem(why).String("message") ?? "";
        LabReport.Write("no-direct", $"{listener,-6} <- {connector,-6} no direct path (--relay never): connect exit 1 after {connectorTook.TotalSeconds:0.0} s (--timeout {TimeoutSeconds}): \"{reason}\"; listen exit 1: \"{listenerReason}\"");
    }
}
