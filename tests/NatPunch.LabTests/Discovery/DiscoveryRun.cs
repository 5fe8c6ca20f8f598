using System.Globalization;
using System.Text;
using System.Text.Json;
using NatPunch.LabTests.Lab;
using NatPunch.Testing;

namespace NatPunch.LabTests.Discovery;

/// <summary>
/// One <c>natpunch netcheck --json</c> and one <c>turnutils_natdiscovery -m -f</c> from the same lab
/// host against the same server, run at the same time (each on its own sockets), with everything
/// needed to explain a disagreement.
/// </summary>
public sealed class DiscoveryRun
{
    private static readonly TimeSpan NetcheckTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan NatdiscoveryTimeout = TimeSpan.FromSeconds(60);

    private DiscoveryRun(string host, string server, ExternalProcess.Result netcheck, ExternalProcess.Result? natdiscovery)
    {
        Host = host;
        Server = server;
        Netcheck = netcheck;
        NatdiscoveryResult = natdiscovery;
        try
        {
            using JsonDocument document = JsonDocument.Parse(netcheck.StandardOutput);
            Report = document.RootElement.Clone();
            Ours = Verdict.FromNetcheck(Report.Value);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            ParseError = ex.Message;
        }
        if (natdiscovery is not null)
        {
            Theirs = Verdict.FromNatdiscovery(natdiscovery.Output);
        }
    }

    public string Host { get; }

    public string Server { get; }

    public ExternalProcess.Result Netcheck { get; }

    public ExternalProcess.Result? NatdiscoveryResult { get; }

    /// <summary>netcheck's JSON object, if it printed one.</summary>
    public JsonElement? Report { get; }

    public string? ParseError { get; }

    public Verdict? Ours { get; }

    public Verdict? Theirs { get; }

    /// <param name="withNatdiscovery">Also run coturn's natdiscovery (binding the host's own IP with -L, as lab/verify.sh does).</param>
    public static async Task<DiscoveryRun> RunAsync(LabFixture lab, string kind, int host, int port, bool withNatdiscovery)
    {
        string ns = lab.HostNamespace(kind, host);
        string server = $"{LabFixture.ServerIp1}:{port.ToString(CultureInfo.InvariantCulture)}";
        // --timeout 20 rather than the default 10: the verdicts do not depend on it (a filtering probe
        // is given up 5.5 s after it starts), but on a loaded CI machine (several test assemblies at
        // once on 2 cores), or after a retransmitted test I under loss, 10 s can cut the filtering
        // tests short and report "unknown".
        Task<ExternalProcess.Result> netcheck = lab.Natpunch(ns, ["netcheck", "--server", server, "--json", "--timeout", "20"], NetcheckTimeout);
        Task<ExternalProcess.Result>? natdiscovery = withNatdiscovery
            ? lab.Exec(ns,
                [Requires.FindOnPath("turnutils_natdiscovery")!, "-m", "-f", "-p", port.ToString(CultureInfo.InvariantCulture), "-L", lab.HostIp(kind, host), LabFixture.ServerIp1],
                NatdiscoveryTimeout)
            : null;
        return new DiscoveryRun(ns, server, await netcheck, natdiscovery is null ? null : await natdiscovery);
    }

    public string? String(string key) => Report?.GetProperty(key) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    public bool? Bool(string key) => Report?.GetProperty(key).ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    /// <summary>Everything both tools said, and the server's log, for a failure message.</summary>
    public string Diagnostics(BackgroundProcess? serverProcess)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"--- natpunch netcheck --server {Server} --json --timeout 20 in {Host}: exit {Netcheck.ExitCode}{(Netcheck.TimedOut ? " (timed out)" : "")}");
        text.AppendLine(Netcheck.StandardOutput.Trim());
        text.AppendLine("--- netcheck stderr (progress)");
        text.AppendLine(Netcheck.StandardError.Trim());
        if (NatdiscoveryResult is { } nd)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"--- turnutils_natdiscovery -m -f in {Host}: exit {nd.ExitCode}{(nd.TimedOut ? " (timed out)" : "")}");
            text.AppendLine(nd.Output.Trim());
        }
        if (serverProcess is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"--- {serverProcess.Name}: last lines of its log{(serverProcess.HasExited ? " (it has EXITED)" : "")}");
            text.AppendLine(serverProcess.Tail(60));
        }
        return text.ToString();
    }
}
