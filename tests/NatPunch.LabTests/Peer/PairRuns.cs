using System.Globalization;
using System.Text;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>The attempts of one pair (listener ← connector).</summary>
public sealed record PairRun(string Listener, string Connector, IReadOnlyList<PairAttempt> Attempts)
{
    public IEnumerable<PairAttempt> DirectWithin(TimeSpan limit) => Attempts.Where(a => a.ToDirect is { } took && took <= limit);
}

/// <summary>
/// Pair tables whose every pair should go direct (port probing, clashing NATs): each pair run a
/// number of times (<see cref="PairAttempt"/>), a table row per pair from the caller's columns, the
/// table and the misses reported, and at least 95 % of all attempts direct within the limit asserted.
/// </summary>
public static class PairRuns
{
    public static async Task<List<PairRun>> RunAsync(LabFixture lab, TransferFiles files, IEnumerable<(string Listener, string Connector)> pairs,
        int attempts, TimeSpan directWithin)
    {
        var runs = new List<PairRun>();
        foreach ((string listener, string connector) in pairs)
        {
            var results = new List<PairAttempt>();
            for (int i = 0; i < attempts; i++)
            {
                results.Add(await PairAttempt.RunAsync(lab, files, Site.Parse(listener), Site.Parse(connector), directWithin));
            }
            runs.Add(new PairRun(listener, connector, results));
        }
        return runs;
    }

    /// <summary>
    /// Writes the table (header, then for each run "listener ← connector | direct n/N | first paths |
    /// to direct median (max)" and <paramref name="columns"/>) to <paramref name="report"/>, and asserts
    /// that at least 95 % of all attempts were direct within <paramref name="directWithin"/>.
    /// </summary>
    public static void ReportAndAssertMostlyDirect(string report, IReadOnlyList<PairRun> runs, TimeSpan directWithin,
        IReadOnlyList<(string Header, Func<IReadOnlyList<PairAttempt>, string> Cell)> columns)
    {
        var table = new StringBuilder();
        table.AppendLine($"| listener ← connector | direct within {directWithin.TotalSeconds:0} s | first path | to direct, s after introduction: median (max) | "
            + string.Join(" | ", columns.Select(c => c.Header)) + " |");
        table.AppendLine("|---|---|---|---|" + string.Concat(columns.Select(_ => "---|")));
        var misses = new List<string>();
        foreach (PairRun run in runs)
        {
            double[] seconds = [.. run.DirectWithin(directWithin).Select(a => a.ToDirect!.Value.TotalSeconds).Order()];
            string toDirect = seconds.Length == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{seconds[seconds.Length / 2]:0.00} ({seconds[^1]:0.00})");
            table.AppendLine($"| {run.Listener} ← {run.Connector} | {seconds.Length}/{run.Attempts.Count} | {Tally(run.Attempts.Select(a => a.FirstPath))} "
                + $"| {toDirect} | " + string.Join(" | ", columns.Select(c => c.Cell(run.Attempts))) + " |");
            misses.AddRange(run.Attempts.Except(run.DirectWithin(directWithin)).Select(a =>
                $"{run.Listener} <- {run.Connector}: no direct path within {directWithin.TotalSeconds:0} s on both ends\n{a.Diagnostics}"));
        }
        int total = runs.Sum(r => r.Attempts.Count), direct = runs.Sum(r => r.DirectWithin(directWithin).Count());
        LabReport.Write(report, table.ToString().TrimEnd() + $"\n{direct} of {total} attempts direct within {directWithin.TotalSeconds:0} s"
            + string.Concat(misses.Select(m => $"\n\nmissed: {m}")));
        (direct * 100).ShouldBeGreaterThanOrEqualTo(95 * total, $"{direct} of {total} direct\n{string.Join("\n\n", misses)}\n{table}");
    }

    /// <summary>"value count, value count" in order of first appearance.</summary>
    public static string Tally(IEnumerable<string> values) => string.Join(", ", values.GroupBy(v => v).Select(g => $"{g.Key} {g.Count()}"));

    /// <summary>"median (max)" of <paramref name="values"/>.</summary>
    public static string MedianAndMax(IEnumerable<long> values)
    {
        long[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{sorted[sorted.Length / 2]} ({sorted[^1]})");
    }
}
