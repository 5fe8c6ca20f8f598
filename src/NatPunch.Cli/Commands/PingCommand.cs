using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NatPunch.Cli.Peer;

namespace NatPunch.Cli.Commands;

/// <summary>
/// <c>natpunch ping --peer NAME</c>: connects to the peer (listening with <c>listen</c> or <c>expose</c>)
/// and sends pings over the session's path, as <c>tailscale ping</c> does: per probe the path (direct or
/// relay) and the round-trip time, then the loss. Results go to standard output, progress to stderr.
/// Exit 0 if any pong came back, 1 if none did.
/// </summary>
internal static class PingCommand
{
    public static Command Create()
    {
        var shared = new PeerCommandOptions(connect: true, idOptional: true);
        var peer = new Option<string>("--peer") { HelpName = "NAME", Description = "The NAME of the peer to ping (it runs 'natpunch listen' or 'natpunch expose').", Required = true };
        var count = new Option<int>("--count", "-c") { HelpName = "N", Description = "Pings to send; 0 sends until interrupted.", DefaultValueFactory = _ => 5 };
        var interval = new Option<double>("--interval", "-i") { HelpName = "SECONDS", Description = "Time between pings.", DefaultValueFactory = _ => 1 };
        var wait = new Option<double>("--wait", "-W") { HelpName = "SECONDS", Description = "How long to wait for each pong before counting it lost.", DefaultValueFactory = _ => 2 };
        var command = new Command("ping", "Connect to a peer and report the path, the round-trip time of each ping over it, and the loss.");
        shared.AddTo(command);
        command.Options.Add(peer);
        command.Options.Add(count);
        command.Options.Add(interval);
        command.Options.Add(wait);
        command.SetAction((parse, cancellationToken) =>
        {
            int n = parse.GetValue(count);
            double every = parse.GetValue(interval), patience = parse.GetValue(wait);
            string? error = n < 0 ? "--count must be 0 or more"
                : every is < 0.01 or > 3600 || double.IsNaN(every) ? "--interval must be between 0.01 and 3600 seconds"
                : patience is < 0.01 or > 3600 || double.IsNaN(patience) ? "--wait must be between 0.01 and 3600 seconds"
                : null;
            if (error is not null)
            {
                return Task.FromResult(PeerCommands.Usage(parse, error));
            }
            bool json = shared.Json(parse);
            return PeerCommands.RunPeerCommandAsync(shared, parse, (options, printer) =>
                RunAsync(options, parse.GetValue(peer)!, n, TimeSpan.FromSeconds(every), TimeSpan.FromSeconds(patience), json, printer, cancellationToken));
        });
        return command;
    }

    private static async Task<int> RunAsync(PeerOptions options, string peer, int count, TimeSpan interval, TimeSpan wait, bool json,
        ProgressPrinter printer, CancellationToken cancellationToken)
    {
        await using PeerConnection connection = await PeerConnector.ConnectAsync(options, peer, printer, cancellationToken);
        var times = new List<double>();
        int sent = 0;
        try
        {
            for (int seq = 1; count == 0 || seq <= count; seq++)
            {
                long started = TimeProvider.System.GetTimestamp();
                sent++;
                using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                patience.CancelAfter(wait);
                try
                {
                    TimeSpan rtt = await connection.PingAsync(patience.Token);
                    times.Add(rtt.TotalMilliseconds);
                    PeerPath path = connection.Path;
                    Print(json, new JsonObject
                    {
                        ["event"] = "pong",
                        ["seq"] = seq,
                        ["peer"] = peer,
                        ["path"] = path.Kind,
                        ["transport"] = path.Transport,
                        ["remote"] = ProgressPrinter.Format(path.Remote),
                        ["rtt_ms"] = Math.Round(rtt.TotalMilliseconds, 3),
                    }, $"pong from {peer} ({path.Kind}, {ProgressPrinter.Format(path.Remote)}) seq={seq} in {Ms(rtt.TotalMilliseconds)} ms");
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    Print(json, new JsonObject { ["event"] = "timeout", ["seq"] = seq, ["peer"] = peer, ["wait_ms"] = (long)wait.TotalMilliseconds },
                        $"no pong from {peer} seq={seq} within {Ms(wait.TotalMilliseconds)} ms");
                }
                if (count == 0 || seq < count)
                {
                    TimeSpan left = interval - TimeProvider.System.GetElapsedTime(started);
                    if (left > TimeSpan.Zero)
                    {
                        await Task.Delay(left, cancellationToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Interrupted: the summary still says what was measured.
        }
        double loss = sent == 0 ? 0 : 100.0 * (sent - times.Count) / sent;
        var summary = new JsonObject { ["event"] = "summary", ["peer"] = peer, ["sent"] = sent, ["received"] = times.Count, ["loss_percent"] = Math.Round(loss, 1) };
        string text = $"--- {peer}: {sent} sent, {times.Count} received, {loss.ToString("0.#", CultureInfo.InvariantCulture)}% loss";
        if (times.Count > 0)
        {
            summary["rtt_min_ms"] = Math.Round(times.Min(), 3);
            summary["rtt_avg_ms"] = Math.Round(times.Average(), 3);
            summary["rtt_max_ms"] = Math.Round(times.Max(), 3);
            text += $"; rtt min/avg/max {Ms(times.Min())}/{Ms(times.Average())}/{Ms(times.Max())} ms";
        }
        Print(json, summary, text);
        return times.Count > 0 ? 0 : 1;
    }

    private static string Ms(double milliseconds) => milliseconds.ToString("0.###", CultureInfo.InvariantCulture);

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };

    private static void Print(bool json, JsonObject value, string text)
    {
        Console.Out.WriteLine(json ? value.ToJsonString(JsonOptions) : text);
        Console.Out.Flush();
    }
}
