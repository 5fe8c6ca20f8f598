using System.Globalization;
using System.Text;
using NatPunch.LabTests.Lab;
using NatPunch.LabTests.Peer;

namespace NatPunch.LabTests.PortMapping;

/// <summary>
/// Every pair of the upnp site (a symmetric NAT whose gateway, miniupnpd, maps ports) with the other
/// kinds that have UDP, in both roles: each attempt must connect directly, through the mapping when
/// the other side filters (a symmetric NAT's own public ports change per destination). Then the
/// same NAT without the mapping (<c>--no-port-mapping</c>, and <c>--no-port-probing</c>) with a port-restricted and a symmetric
/// peer: relayed, as for any symmetric NAT. <c>NATPUNCH_LAB_ATTEMPTS</c> attempts per pair and role
/// (2 by default; docs/lab-results.md has a run with 20). The table goes to the test output.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class PortMappingPairsTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private static int Attempts => PairAttempt.AttemptsPerPair(2);

    private static readonly (string Listener, string Connector)[] Pairs =
    [
        ("upnp1", "open1"), ("open1", "upnp1"), ("upnp1", "full1"), ("full1", "upnp1"),
        ("upnp1", "addr1"), ("addr1", "upnp1"), ("upnp1", "port1"), ("port1", "upnp1"),
        ("upnp1", "sym1"), ("sym1", "upnp1"), ("upnp1", "cgnat1"), ("cgnat1", "upnp1"),
        ("upnp1", "upnp2"),
    ];

    [Fact]
    public async Task EveryPairWithTheMappingSiteConnectsDirectly()
    {
        lab.RequireMiniupnpd();
        var table = new StringBuilder();
        table.AppendLine("| listener ← connector | direct | mapped with | connector elapsed_ms, median (min–max) | listener elapsed_ms, median (min–max) |");
        table.AppendLine("|---|---|---|---|---|");
        var problems = new List<string>();
        foreach ((string listener, string connector) in Pairs)
        {
            PairResult result = await RunPairAsync(Site.Parse(listener), Site.Parse(connector), []);
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {listener} ← {connector} | {result.Direct}/{result.Attempts} | {string.Join(", ", result.Protocols.Distinct())} | {Range(result.ConnectorMs)} | {Range(result.ListenerMs)} |");
            if (result.Direct != result.Attempts)
            {
                problems.Add($"{listener} <- {connector}: {result.Direct} of {result.Attempts} direct ({string.Join("; ", result.Paths)})");
            }
        }
        LabReport.Write("port-mapping-pairs", table.ToString().TrimEnd());
        problems.ShouldBeEmpty(string.Join('\n', problems) + "\n" + table);
    }

    [Theory]
    [InlineData("upnp1", "port1")]
    [InlineData("sym1", "upnp1")]
    public async Task WithoutTheMappingTheSameNatIsRelayed(string listener, string connector)
    {
        lab.RequireMiniupnpd();
        // Port probing would find a path for upnp1 <- port1 (PortProbingTests): off here too.
        PairResult result = await RunPairAsync(Site.Parse(listener), Site.Parse(connector), ["--no-port-mapping", "--no-port-probing"], attempts: 1);
        result.Direct.ShouldBe(0, string.Join("; ", result.Paths));
        result.Paths.ShouldAllBe(p => p.StartsWith("relay", StringComparison.Ordinal));
        result.RelayReasons.ShouldAllBe(r => r.Contains("public port per destination"), string.Join("; ", result.RelayReasons));
        LabReport.Write("port-mapping-pairs", $"{listener} <- {connector} with --no-port-mapping --no-port-probing on both: {string.Join("; ", result.Paths)}");
    }

    /// <param name="RelayReasons">The connected events' <c>relay_reason</c>, both ends, of the relayed attempts.</param>
    private sealed record PairResult(int Attempts, int Direct, List<long> ConnectorMs, List<long> ListenerMs, List<string> Protocols, List<string> Paths,
        List<string> RelayReasons);

    private async Task<PairResult> RunPairAsync(Site listener, Site connector, string[] arguments, int? attempts = null)
    {
        var result = new PairResult(attempts ?? Attempts, 0, [], [], [], [], []);
        int direct = 0;
        for (int i = 0; i < result.Attempts; i++)
        {
            await using PipeRun run = await PipeRun.StartAsync(lab, listener, connector, new PipeRunOptions
            {
                WorkDirectory = files.Directory.FullName,
                TimeoutSeconds = 20,
                ListenerArguments = arguments,
                ConnectorArguments = arguments,
            });
            bool ended = await run.WaitForBothAsync(TimeSpan.FromSeconds(60));
            string why = run.Diagnostics();
            ended.ShouldBeTrue($"still running after 60 s\n{why}");
            run.Connector!.ExitCode.ShouldBe(0, why);
            run.Listener!.ExitCode.ShouldBe(0, why);
            PeerEvent fromConnector = run.Connector.EventsNamed("connected").ShouldHaveSingleItem(why);
            PeerEvent fromListener = run.Listener.EventsNamed("connected").ShouldHaveSingleItem(why);
            string path = fromConnector.String("path")!;
            result.Paths.Add($"{path} to {fromConnector.String("remote")}");
            if (path == "direct" && fromListener.String("path") == "direct")
            {
                direct++;
            }
            if (path == "relay")
            {
                result.RelayReasons.Add(fromConnector.String("relay_reason") ?? "(none)");
                result.RelayReasons.Add(fromListener.String("relay_reason") ?? "(none)");
            }
            result.ConnectorMs.Add(fromConnector.Long("elapsed_ms")!.Value);
            result.ListenerMs.Add(fromListener.Long("elapsed_ms")!.Value);
            foreach (PeerProcess side in new[] { run.Listener, run.Connector })
            {
                result.Protocols.AddRange(side.EventsNamed("port_mapped").Select(e => e.String("protocol")!));
            }
        }
        return result with { Direct = direct };
    }

    private static string Range(List<long> values)
    {
        long[] sorted = [.. values.Order()];
        return string.Create(CultureInfo.InvariantCulture, $"{sorted[sorted.Length / 2]} ({sorted[0]}–{sorted[^1]})");
    }
}
