using System.CommandLine;
using System.Net;
using NatPunch.Cli.Bench;

namespace NatPunch.Cli.Commands;

/// <summary><c>natpunch bench</c>: load generators that measure servers (ours or anyone's).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Measure servers under load.");
        command.Subcommands.Add(CreateStun());
        return command;
    }

    /// <summary><c>natpunch bench stun</c>: Binding requests as fast as the server answers them.</summary>
    private static Command CreateStun()
    {
        StunBenchOptions defaults = StunBenchOptions.Default;
        var server = new Option<string>("--server")
        {
            Description = "The STUN server to measure, HOST:PORT (any RFC 8489 server).",
            Required = true,
        };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Length of the measured period, after the warm-up.",
            DefaultValueFactory = _ => defaults.Duration.TotalSeconds,
        };
        var warmUp = new Option<double>("--warmup")
        {
            Description = "Seconds of load before measuring, not counted.",
            DefaultValueFactory = _ => defaults.WarmUp.TotalSeconds,
        };
        var clients = new Option<int>("--clients")
        {
            Description = "UDP sockets, each on its own thread and source port.",
            DefaultValueFactory = _ => defaults.Clients,
        };
        var window = new Option<int>("--window")
        {
            Description = "Requests each socket keeps outstanding.",
            DefaultValueFactory = _ => defaults.Window,
        };
        var timeout = new Option<int>("--timeout-ms")
        {
            Description = "A request unanswered this long is counted lost and sent again.",
            DefaultValueFactory = _ => (int)defaults.Timeout.TotalMilliseconds,
        };
        var noBatch = new Option<bool>("--no-batch")
        {
            Description = "One system call per datagram, even on Linux where recvmmsg/sendmmsg batches make the generator cheaper.",
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a line of text." };
        var command = new Command("stun",
            "STUN Binding load: N sockets each keeping W requests outstanding; prints responses/s, loss and latency.")
        {
            server, seconds, warmUp, clients, window, timeout, noBatch, json,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            if (!HostEndPoint.TryResolve(parse.GetValue(server)!, out IPEndPoint endPoint, out string error))
            {
                return Task.FromResult(Usage($"--server: {error}"));
            }
            double duration = parse.GetValue(seconds), warmUpSeconds = parse.GetValue(warmUp);
            int clientCount = parse.GetValue(clients), windowSize = parse.GetValue(window), timeoutMs = parse.GetValue(timeout);
            if (duration <= 0 || warmUpSeconds < 0 || clientCount is < 1 or > 1024 || windowSize is < 1 or > 65536 || timeoutMs < 1)
            {
                return Task.FromResult(Usage("--seconds must be > 0, --warmup >= 0, --clients 1..1024, --window 1..65536, --timeout-ms >= 1"));
            }
            var options = new StunBenchOptions
            {
                Server = endPoint,
                Duration = TimeSpan.FromSeconds(duration),
                WarmUp = TimeSpan.FromSeconds(warmUpSeconds),
                Clients = clientCount,
                Window = windowSize,
                Timeout = TimeSpan.FromMilliseconds(timeoutMs),
                Batched = !parse.GetValue(noBatch),
            };
            return Task.FromResult(Run(options, parse.GetValue(json), cancellationToken));
        });
        return command;
    }

    private static int Run(StunBenchOptions options, bool json, CancellationToken cancellationToken)
    {
        if (!json)
        {
            Console.Error.WriteLine($"natpunch bench stun: {options.Server}, {options.Clients} clients x {options.Window} outstanding, "
                + $"{options.WarmUp.TotalSeconds:0.##} s warm-up + {options.Duration.TotalSeconds:0.##} s measured");
        }
        StunBenchResult result = StunLoadGenerator.Run(options, cancellationToken);
        Console.Out.WriteLine(json ? result.ToJson() : result.ToText());
        if (result.Counts.Responses == 0)
        {
            Console.Error.WriteLine($"natpunch bench stun: no valid answer from {options.Server}");
            return 1;
        }
        return 0;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"natpunch bench stun: {message}");
        return Program.UsageError;
    }
}
