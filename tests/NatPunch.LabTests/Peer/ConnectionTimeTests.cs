using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using NatPunch.LabTests.Discovery;
using NatPunch.LabTests.Lab;
using NatPunch.Testing;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// How long <c>listen</c>/<c>connect</c> take to connect through the lab's kernel NATs: for every
/// direct pair, <see cref="Runs"/> runs with empty input, the median of the connector's and the
/// listener's <c>elapsed_ms</c> (connector: from its start to the selected path, gathering and
/// rendezvous included; listener: from its introduction on), and the server's round-trip time from
/// the hosts (STUN, from netcheck; ICMP too where <c>ping</c> is installed). The table goes to the
/// test output (docs/lab-results.md). Asserted: every run connects directly; the medians stay far
/// below the bounds, which only catch a connection that waits for a timeout somewhere.
/// </summary>
[Collection(LabCollection.Name)]
public sealed partial class ConnectionTimeTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private const int Runs = 5;
    private const long ConnectorBoundMs = 5000;
    private const long ListenerBoundMs = 2000;

    public static readonly (string Listener, string Connector)[] Pairs =
    [
        ("open1", "open2"), ("open1", "full1"), ("open1", "addr1"), ("open1", "port1"),
        ("full1", "full2"), ("full1", "addr1"), ("full1", "port1"),
        ("addr1", "addr2"), ("addr1", "port1"),
        ("port1", "port2"),
        ("sym1", "sym2"),
    ];

    [Fact]
    public async Task EveryDirectPairConnectsQuickly()
    {
        lab.Require();
        Dictionary<string, (string Stun, string Icmp)> rtt = [];
        foreach (string host in Pairs.SelectMany(p => new[] { p.Listener, p.Connector }).Distinct())
        {
            rtt[host] = await ServerRoundTripAsync(Site.Parse(host));
        }

        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"| listener | connector | path | connector elapsed_ms, median (min–max) | listener elapsed_ms, median (min–max) | server RTT STUN / ICMP, ms (listener; connector) |");
        table.AppendLine("|---|---|---|---|---|---|");
        var problems = new List<string>();
        foreach ((string listener, string connector) in Pairs)
        {
            Site l = Site.Parse(listener), c = Site.Parse(connector);
            var connectorMs = new List<long>();
            var listenerMs = new List<long>();
            string path = "";
            for (int i = 0; i < Runs; i++)
            {
                await using PipeRun run = await PipeRun.StartAsync(lab, l, c,
                    new PipeRunOptions { WorkDirectory = files.Directory.FullName, TimeoutSeconds = 20 });
                bool ended = await run.WaitForBothAsync(TimeSpan.FromSeconds(60));
                string why = run.Diagnostics();
                ended.ShouldBeTrue($"still running after 60 s\n{why}");
                run.Connector!.ExitCode.ShouldBe(0, why);
                run.Listener!.ExitCode.ShouldBe(0, why);
                PeerEvent fromConnector = run.Connector.EventsNamed("connected").ShouldHaveSingleItem(why);
                PeerEvent fromListener = run.Listener.EventsNamed("connected").ShouldHaveSingleItem(why);
                fromConnector.String("path").ShouldBe("direct", why);
                fromListener.String("path").ShouldBe("direct", why);
                connectorMs.Add(fromConnector.Long("elapsed_ms")!.Value);
                listenerMs.Add(fromListener.Long("elapsed_ms")!.Value);
                path = (l.Kind == c.Kind, l.Kind) switch
                {
                    (true, "open") => "one network, no NAT",
                    (true, _) => "behind one NAT: LAN",
                    (false, "open") => "to the listener's public host address",
                    _ => "between the NATs' public addresses",
                };
            }
            long connectorMedian = Median(connectorMs), listenerMedian = Median(listenerMs);
            string row = string.Create(CultureInfo.InvariantCulture,
                $"| {listener} | {connector} | {path} | {connectorMedian} ({connectorMs.Min()}–{connectorMs.Max()}) | {listenerMedian} ({listenerMs.Min()}–{listenerMs.Max()}) | {rtt[listener].Stun} / {rtt[listener].Icmp}; {rtt[connector].Stun} / {rtt[connector].Icmp} |");
            table.AppendLine(row);
            if (connectorMedian > ConnectorBoundMs)
            {
                problems.Add($"{listener} <- {connector}: connector median {connectorMedian} ms > {ConnectorBoundMs} ms ({string.Join(", ", connectorMs)})");
            }
            if (listenerMedian > ListenerBoundMs)
            {
                problems.Add($"{listener} <- {connector}: listener median {listenerMedian} ms > {ListenerBoundMs} ms ({string.Join(", ", listenerMs)})");
            }
        }
        LabReport.Write("connection-time", table.ToString().TrimEnd());
        problems.ShouldBeEmpty(string.Join('\n', problems) + "\n" + table);
    }

    private static long Median(List<long> values)
    {
        long[] sorted = [.. values.Order()];
        return sorted[sorted.Length / 2];
    }

    /// <summary>STUN round trip to our server as netcheck measures it, and ICMP (ping) where installed.</summary>
    private async Task<(string Stun, string Icmp)> ServerRoundTripAsync(Site host)
    {
        string ns = lab.HostNamespace(host.Kind, host.Host);
        ExternalProcess.Result netcheck = await lab.Natpunch(ns,
            ["netcheck", "--server", $"{LabFixture.ServerIp1}:{LabFixture.OurPort.ToString(CultureInfo.InvariantCulture)}", "--json", "--timeout", "1"],
            TimeSpan.FromSeconds(30));
        string stun = RttMs().Match(netcheck.StandardOutput) is { Success: true } m
            ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture).ToString("0.0", CultureInfo.InvariantCulture)
            : "-";
        string icmp = "-";
        if (Requires.FindOnPath("ping") is { } ping)
        {
            ExternalProcess.Result result = await lab.Exec(ns, [ping, "-c", "5", "-i", "0.2", "-q", LabFixture.ServerIp1], TimeSpan.FromSeconds(30));
            if (PingAvg().Match(result.StandardOutput) is { Success: true } p)
            {
                icmp = double.Parse(p.Groups[1].Value, CultureInfo.InvariantCulture).ToString("0.00", CultureInfo.InvariantCulture);
            }
        }
        return (stun, icmp);
    }

    [GeneratedRegex("\"rtt_ms\":([0-9.]+)")]
    private static partial Regex RttMs();

    // rtt min/avg/max/mdev = 0.052/0.075/0.090/0.013 ms
    [GeneratedRegex(@"= [0-9.]+/([0-9.]+)/")]
    private static partial Regex PingAvg();
}
