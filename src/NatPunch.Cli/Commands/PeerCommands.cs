using System.CommandLine;
using NatPunch.Cli.Peer;

namespace NatPunch.Cli.Commands;

/// <summary>
/// <c>natpunch listen</c> and <c>natpunch connect</c>: meet a peer through the server, punch a
/// direct path and pipe standard input to the peer and the peer's bytes to standard output
/// (the contract in DESIGN.md).
/// </summary>
internal static class PeerCommands
{
    public static Command CreateListen()
    {
        var shared = new SharedOptions();
        var command = new Command("listen", "Register NAME with the server, accept one peer, and pipe stdin/stdout to it.");
        shared.AddTo(command);
        command.SetAction((parse, cancellationToken) => RunAsync(shared, parse, peer: null, cancellationToken));
        return command;
    }

    public static Command CreateConnect()
    {
        var shared = new SharedOptions();
        var peer = new Option<string>("--peer") { Description = "The NAME the peer registered with 'natpunch listen'.", Required = true };
        var command = new Command("connect", "Connect to the peer registered as --peer (waiting up to --timeout for it), and pipe stdin/stdout to it.");
        shared.AddTo(command);
        command.Options.Add(peer);
        command.SetAction((parse, cancellationToken) => RunAsync(shared, parse, parse.GetValue(peer), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(SharedOptions shared, ParseResult parse, string? peer, CancellationToken cancellationToken)
    {
        if (!shared.TryRead(parse, out PeerOptions options, out bool json, out string error))
        {
            Console.Error.WriteLine($"natpunch: {error}");
            return Program.UsageError;
        }
        var printer = new ProgressPrinter(Console.Error, json);
        PeerConnection connection;
        try
        {
            connection = peer is null
                ? await PeerConnector.ListenAsync(options, printer, cancellationToken)
                : await PeerConnector.ConnectAsync(options, peer, printer, cancellationToken);
        }
        catch (ConnectException e)
        {
            printer.Error(e.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            printer.Error("interrupted");
            return 1;
        }
        await using (connection)
        {
            return await StdioPipe.RunAsync(connection, printer, cancellationToken);
        }
    }

    /// <summary>The options listen and connect have in common.</summary>
    private sealed class SharedOptions
    {
        private readonly Option<string> _server = new("--server") { Description = "HOST:PORT of the NatPunch server (port 3478 if left out).", Required = true };
        private readonly Option<string> _id = new("--id") { Description = "Our NAME in the server's directory.", Required = true };
        private readonly Option<string?> _token = new("--token") { Description = "The server's shared secret, if it requires one." };
        private readonly Option<string> _relay = new("--relay")
        {
            Description = "Use of a relay: never (direct only), auto, only. This version has no relay yet: 'never' is what it does.",
            DefaultValueFactory = _ => "never",
        };
        private readonly Option<double> _timeout = new("--timeout")
        {
            Description = "Seconds to wait for the peer and a working path (connect), or to make a path once a peer arrived (listen).",
            DefaultValueFactory = _ => 30,
        };
        private readonly Option<double> _deadAfter = new("--dead-after")
        {
            Description = "Seconds without answers from the peer before the path is declared dead and re-established through the server.",
            DefaultValueFactory = _ => 15,
        };
        private readonly Option<bool> _json = new("--json") { Description = "Progress on stderr as one JSON object per line." };
        private readonly Option<bool> _loopback = new("--allow-loopback")
        {
            Description = "Also offer loopback addresses (two peers on one machine).",
            Hidden = true,
        };

        public void AddTo(Command command)
        {
            command.Options.Add(_server);
            command.Options.Add(_id);
            command.Options.Add(_token);
            command.Options.Add(_relay);
            command.Options.Add(_timeout);
            command.Options.Add(_deadAfter);
            command.Options.Add(_json);
            command.Options.Add(_loopback);
        }

        public bool TryRead(ParseResult parse, out PeerOptions options, out bool json, out string error)
        {
            options = null!;
            json = parse.GetValue(_json);
            error = string.Empty;
            string relay = parse.GetValue(_relay) ?? "never";
            if (relay is not ("never" or "auto" or "only"))
            {
                error = $"--relay must be auto, never or only, not '{relay}'";
                return false;
            }
            if (relay == "only")
            {
                error = "--relay only: this version has no relay yet";
                return false;
            }
            double timeout = parse.GetValue(_timeout);
            if (timeout <= 0 || double.IsNaN(timeout) || timeout > 86400)
            {
                error = "--timeout must be a number of seconds between 0 and 86400";
                return false;
            }
            double deadAfter = parse.GetValue(_deadAfter);
            if (deadAfter < 1 || double.IsNaN(deadAfter) || deadAfter > 3600)
            {
                error = "--dead-after must be a number of seconds between 1 and 3600";
                return false;
            }
            var defaults = new PeerOptions { Server = "", Name = "" };
            options = new PeerOptions
            {
                Ice = defaults.Ice with { ConsentTimeout = TimeSpan.FromSeconds(deadAfter), ConsentInterval = TimeSpan.FromSeconds(Math.Min(5, deadAfter / 3)) },
                StreamPeerTimeout = TimeSpan.FromSeconds(Math.Max(60, deadAfter * 4)),
                Server = parse.GetValue(_server)!,
                Name = parse.GetValue(_id)!,
                Token = parse.GetValue(_token),
                Timeout = TimeSpan.FromSeconds(timeout),
                IncludeLoopbackCandidates = parse.GetValue(_loopback),
            };
            return true;
        }
    }
}
