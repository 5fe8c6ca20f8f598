using System.CommandLine;
using NatPunch.Cli.Peer;
using NatPunch.Security;

namespace NatPunch.Cli.Commands;

/// <summary>
/// <c>natpunch listen</c> and <c>natpunch connect</c>: meet a peer through the server, punch a
/// direct path (or go through a TURN relay, <c>--relay</c>) and pipe standard input to the peer and
/// the peer's bytes to standard output (the contract in DESIGN.md). Options: <see cref="PeerCommandOptions"/>.
/// </summary>
internal static class PeerCommands
{
    public static Command CreateListen()
    {
        var shared = new PeerCommandOptions(connect: false);
        var command = new Command("listen", "Register NAME with the server, accept one peer, and pipe stdin/stdout to it.");
        shared.AddTo(command);
        command.SetAction((parse, cancellationToken) => RunAsync(shared, parse, peer: null, cancellationToken));
        return command;
    }

    public static Command CreateConnect()
    {
        var shared = new PeerCommandOptions(connect: true);
        var peer = new Option<string>("--peer") { HelpName = "NAME", Description = "The NAME the peer registered with 'natpunch listen'.", Required = true };
        var command = new Command("connect", "Connect to the peer registered as --peer (waiting up to --timeout for it), and pipe stdin/stdout to it.");
        shared.AddTo(command);
        command.Options.Add(peer);
        command.SetAction((parse, cancellationToken) => RunAsync(shared, parse, parse.GetValue(peer), cancellationToken));
        return command;
    }

    /// <summary>The library's reason, and what to do about it with this command's options.</summary>
    private static string WithAdvice(ConnectException e, PeerOptions options) => e.Failure switch
    {
        ConnectFailure.NoPath when options.Relay == RelayMode.Never => $"{e.Message}; --relay never forbids the relay",
        ConnectFailure.ServerOffersNoRelay => $"{e.Message} (the server runs with --no-turn; name another relay with --turn, or allow a direct path with --relay auto)",
        ConnectFailure.NoRelay => $"{e.Message} (--relay only)",
        _ => e.Message,
    };

    private static Task<int> RunAsync(PeerCommandOptions shared, ParseResult parse, string? peer, CancellationToken cancellationToken) =>
        RunPeerCommandAsync(shared, parse, async (options, printer) =>
        {
            PeerConnection connection = peer is null
                ? await PeerConnector.ListenAsync(options, printer, cancellationToken)
                : await PeerConnector.ConnectAsync(options, peer, printer, cancellationToken);
            await using (connection)
            {
                return await StdioPipe.RunAsync(connection, printer, cancellationToken);
            }
        });

    /// <summary>A command line that does not make sense: says why and where to look, on stderr; exit 2.</summary>
    internal static int Usage(ParseResult parse, string error)
    {
        Console.Error.WriteLine($"natpunch: {error}");
        Console.Error.WriteLine($"Try 'natpunch {parse.CommandResult.Command.Name} --help'.");
        return Program.UsageError;
    }

    /// <summary>
    /// What every peer command does around its work: reads the options (a usage error is exit 2), loads
    /// or creates the identity, and turns a failure to connect, a bad identity file or an interruption
    /// into a message and exit 1.
    /// </summary>
    internal static async Task<int> RunPeerCommandAsync(PeerCommandOptions shared, ParseResult parse, Func<PeerOptions, ProgressPrinter, Task<int>> work)
    {
        if (!shared.TryRead(parse, DateTimeOffset.UtcNow, out PeerOptions options, out string error))
        {
            return Usage(parse, error);
        }
        var printer = new ProgressPrinter(Console.Error, shared.Json(parse));
        try
        {
            options = options with { Identity = IdentityFile.LoadOrCreate(shared.IdentityPath, out bool created) };
            if (created)
            {
                printer.Report(new ConnectionProgress.Status($"created a new identity in {shared.IdentityPath}: {options.Identity.PublicKey}"));
            }
            return await work(options, printer);
        }
        catch (ConnectException e)
        {
            printer.Error(WithAdvice(e, options));
            return 1;
        }
        catch (IdentityFileException e)
        {
            printer.Error(e.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            printer.Error("interrupted");
            return 1;
        }
    }
}
