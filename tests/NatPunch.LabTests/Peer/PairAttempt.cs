using System.Globalization;
using System.Text.Json;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// One attempt of a pair, as the pair tables count it: a fresh <c>listen</c>/<c>connect</c> pair fed
/// 2 MB at 100 KB/s from both ends (so a session that starts on the relay lives long enough to move
/// to a direct path), watched until both ends report a direct <c>connected</c> event, or, when only a
/// relay is expected, until both report one; at most <paramref name="directWithin"/> (+ 2 s) after the
/// connector's introduction.
/// </summary>
/// <param name="FirstPath">The connector's first <c>connected</c> path ("direct", "relay"; "none").</param>
/// <param name="Transport">The connector's first <c>connected</c> transport ("udp", "tcp"; "-").</param>
/// <param name="FirstConnected">From the connector's introduction to its first <c>connected</c> event.</param>
/// <param name="ToDirect">From the connector's introduction to the later of both ends' direct <c>connected</c> events; null if either end never got there.</param>
/// <param name="Probes">The most probes any <c>connected</c> event of the attempt reports.</param>
/// <param name="Sockets">The most extra sockets any <c>connected</c> event reports.</param>
/// <param name="Diagnostics">Both ends' output, when the attempt did not go as expected.</param>
public sealed record PairAttempt(string FirstPath, string Transport, TimeSpan? FirstConnected, TimeSpan? ToDirect, long Probes, long Sockets, string Diagnostics)
{
    public bool Connected => FirstConnected is not null;

    /// <summary>Attempts per pair (and role) of the pair tables: <c>NATPUNCH_LAB_ATTEMPTS</c>, else <paramref name="fallback"/>.</summary>
    public static int AttemptsPerPair(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("NATPUNCH_LAB_ATTEMPTS"), CultureInfo.InvariantCulture, out int n) && n > 0 ? n : fallback;

    /// <summary>Clash avoidance, from the connector's first <c>connected</c> event: routers its traceroute counted before the peer ("-" if none ran).</summary>
    public string RoutersBeforePeer { get; init; } = "-";

    /// <summary>Whether the peer's NAT answered the connector's traceroute ("true", "false", "-").</summary>
    public string PeerNatAnswers { get; init; } = "-";

    /// <summary>Whether the connector's checks waited for the peer's opening ("true", "false", "-").</summary>
    public string HeldForPeerOpening { get; init; } = "-";

    public static async Task<PairAttempt> RunAsync(LabFixture lab, TransferFiles files, Site listener, Site connector, TimeSpan directWithin,
        bool relayExpected = false, IReadOnlyList<string>? arguments = null)
    {
        await using PipeRun run = await PipeRun.StartAsync(lab, listener, connector, new PipeRunOptions
        {
            WorkDirectory = files.Directory.FullName,
            TimeoutSeconds = 30,
            ListenerInput = SlowInput(files),
            ConnectorInput = SlowInput(files),
            BytesPerSecond = 100_000,
            ListenerArguments = arguments ?? [],
            ConnectorArguments = arguments ?? [],
        });
        PeerEvent? introduced = await run.Connector!.WaitForEventAsync("introduced", TimeSpan.FromSeconds(60));
        if (introduced is null)
        {
            return new PairAttempt("none", "-", null, null, 0, 0, $"no introduction within 60 s\n{run.Diagnostics()}");
        }
        TimeSpan deadline = introduced.At + directWithin + TimeSpan.FromSeconds(2);
        PeerEvent? connectorDirect = null, listenerDirect = null;
        while (run.Clock.Elapsed < deadline && (connectorDirect is null || listenerDirect is null))
        {
            await Task.Delay(100);
            connectorDirect ??= run.Connector.EventsNamed("connected").FirstOrDefault(e => e.String("path") == "direct");
            listenerDirect ??= run.Listener!.EventsNamed("connected").FirstOrDefault(e => e.String("path") == "direct");
            bool bothConnected = run.Connector.EventsNamed("connected").Count > 0 && run.Listener!.EventsNamed("connected").Count > 0;
            if (run.Connector.HasExited || run.Listener!.HasExited || (relayExpected && bothConnected))
            {
                break;
            }
        }
        IReadOnlyList<PeerEvent> connected = [.. run.Connector.EventsNamed("connected"), .. run.Listener!.EventsNamed("connected")];
        PeerEvent? first = run.Connector.EventsNamed("connected").FirstOrDefault();
        long probes = connected.Select(e => e.Long("probes") ?? 0).DefaultIfEmpty(0).Max();
        long sockets = connected.Select(e => e.Long("probe_sockets") ?? 0).DefaultIfEmpty(0).Max();
        TimeSpan? toDirect = connectorDirect is null || listenerDirect is null
            ? null
            : (connectorDirect.At > listenerDirect.At ? connectorDirect.At : listenerDirect.At) - introduced.At;
        return new PairAttempt(first?.String("path") ?? "none", first?.String("transport") ?? "-", first?.At - introduced.At, toDirect, probes, sockets,
            run.Diagnostics())
        {
            RoutersBeforePeer = first?.Long("routers_before_peer")?.ToString(CultureInfo.InvariantCulture) ?? "-",
            PeerNatAnswers = first?.Json.TryGetProperty("peer_nat_answers", out JsonElement answers) == true ? answers.ToString() : "-",
            HeldForPeerOpening = first?.Json.TryGetProperty("held_for_peer_opening", out JsonElement held) == true ? held.ToString() : "-",
        };
    }

    /// <summary>2 MB of zeros, fed at 100 KB/s: 20 s, longer than any attempt is watched.</summary>
    public static string SlowInput(TransferFiles files)
    {
        string path = Path.Combine(files.Directory.FullName, "pair-attempt-input.bin");
        if (!File.Exists(path))
        {
            File.WriteAllBytes(path, new byte[2_000_000]);
        }
        return path;
    }
}
