using System.Globalization;
using System.Text;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// Every pair of the lab's kinds, in both roles (host 1 of one kind listening, host 1 of the other
/// connecting; a kind with itself is host 1 ← host 2, over their LAN), each attempt a
/// <see cref="PairAttempt"/>: every attempt must connect; a pair with a UDP-blocked end (and a
/// different site) must go through the relay when the other end's NAT is symmetric (sym, upnp: TCP
/// through it gets a random port too), and must be direct over TCP otherwise (TCP punching);
/// every other pair must reach a direct path within
/// <see cref="DirectWithin"/> on both ends in at least 95 % of all its attempts together (port
/// probing for the symmetric NAT, port mapping for the upnp site). <c>NATPUNCH_LAB_ATTEMPTS</c>
/// attempts per pair and role (1 by default); the table goes to the test output (docs/lab-results.md §9).
/// </summary>
[Collection(LabCollection.Name)]
public sealed class EveryPairTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private static readonly TimeSpan DirectWithin = TimeSpan.FromSeconds(10);

    private static int Attempts => PairAttempt.AttemptsPerPair(1);

    /// <summary>A UDP-blocked end on another site than its peer's: only TCP can be direct.</summary>
    private static bool UdpBlockedPair(Site listener, Site connector) =>
        listener.Kind != connector.Kind && (listener.Kind == "udpblock" || connector.Kind == "udpblock");

    /// <summary>Only a UDP-blocked end whose peer is behind a symmetric NAT (for TCP too) needs the relay.</summary>
    private static bool RelayExpected(Site listener, Site connector) =>
        UdpBlockedPair(listener, connector) && (listener.Kind is "sym" or "upnp" || connector.Kind is "sym" or "upnp");

    private static IEnumerable<(Site Listener, Site Connector)> Pairs() =>
        from listener in LabFixture.Kinds
        from connector in LabFixture.Kinds
        select (new Site(listener, 1), new Site(connector, listener == connector ? 2 : 1));

    [Fact]
    public async Task EveryPairConnectsDirectlyUnlessUdpIsBlocked()
    {
        lab.RequireMiniupnpd();
        var table = new StringBuilder();
        table.AppendLine("| listener ← connector | direct within 10 s | first path (transport) | first connected, s: median | to direct, s: median (max) | probes: median |");
        table.AppendLine("|---|---|---|---|---|---|");
        var problems = new List<string>();
        int directExpected = 0, direct = 0;
        foreach ((Site listener, Site connector) in Pairs())
        {
            bool relay = RelayExpected(listener, connector);
            bool tcp = UdpBlockedPair(listener, connector) && !relay;
            var attempts = new List<PairAttempt>();
            for (int i = 0; i < Attempts; i++)
            {
                PairAttempt attempt = await PairAttempt.RunAsync(lab, files, listener, connector, DirectWithin, relayExpected: relay);
                attempts.Add(attempt);
                string pair = $"{listener} <- {connector}";
                if (!attempt.Connected)
                {
                    problems.Add($"{pair}: not connected\n{attempt.Diagnostics}");
                }
                else if (relay && attempt.FirstPath != "relay")
                {
                    problems.Add($"{pair}: {attempt.FirstPath}, where UDP is blocked only the relay can carry it\n{attempt.Diagnostics}");
                }
                else if (tcp && attempt.FirstPath == "direct" && attempt.Transport != "tcp")
                {
                    problems.Add($"{pair}: direct over {attempt.Transport}, where UDP is blocked only TCP can be direct\n{attempt.Diagnostics}");
                }
                if (!relay)
                {
                    directExpected++;
                    if (attempt.ToDirect <= DirectWithin)
                    {
                        direct++;
                    }
                    else
                    {
                        problems.Add($"{pair}: no direct path within {DirectWithin.TotalSeconds:0} s (tolerated up to 5 % of these)\n{attempt.Diagnostics}");
                    }
                }
            }
            int directCount = attempts.Count(a => a.ToDirect <= DirectWithin);
            string firstPaths = string.Join(", ", attempts.GroupBy(a => $"{a.FirstPath} ({a.Transport})").Select(g => $"{g.Key} {g.Count()}"));
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {listener} ← {connector} | {directCount}/{attempts.Count} | {firstPaths} | {Median(Seconds(attempts.Select(a => a.FirstConnected)))} "
                + $"| {Median(Seconds(attempts.Select(a => a.ToDirect)))} ({Max(Seconds(attempts.Select(a => a.ToDirect)))}) | {Median(attempts.Select(a => (double)a.Probes), "0")} |");
        }
        string summary = $"{direct} of {directExpected} attempts of the pairs that can be direct (UDP, or TCP where one end blocks UDP) direct within {DirectWithin.TotalSeconds:0} s";
        LabReport.Write("every-pair", table.ToString().TrimEnd() + "\n" + summary);
        var hardProblems = problems.Where(p => !p.Contains("tolerated", StringComparison.Ordinal)).ToList();
        hardProblems.ShouldBeEmpty(string.Join("\n\n", hardProblems) + "\n" + table);
        (direct * 100).ShouldBeGreaterThanOrEqualTo(95 * directExpected, summary + "\n" + string.Join("\n\n", problems) + "\n" + table);
    }

    private static IEnumerable<double> Seconds(IEnumerable<TimeSpan?> values) => values.OfType<TimeSpan>().Select(t => t.TotalSeconds);

    private static string Median(IEnumerable<double> values, string format = "0.00")
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? "-" : sorted[sorted.Length / 2].ToString(format, CultureInfo.InvariantCulture);
    }

    private static string Max(IEnumerable<double> values) =>
        values.DefaultIfEmpty(double.NaN).Max() is var max && double.IsNaN(max) ? "-" : max.ToString("0.00", CultureInfo.InvariantCulture);
}
