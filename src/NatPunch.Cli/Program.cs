using System.CommandLine;
using NatPunch.Cli.Commands;

namespace NatPunch.Cli;

public static class Program
{
    /// <summary>Exit code for a command line that does not parse (the CLI contract in DESIGN.md).</summary>
    public const int UsageError = 2;

    public static async Task<int> Main(string[] args)
    {
        RootCommand root = BuildRootCommand();
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                Console.Error.WriteLine($"natpunch: {error.Message}");
            }
            Console.Error.WriteLine("Try 'natpunch --help'.");
            return UsageError;
        }
        return await parse.InvokeAsync();
    }

    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("NatPunch: NAT traversal toolkit. STUN/TURN/rendezvous server, peer-to-peer pipes, port forwarding, network diagnostics.");
        root.Subcommands.Add(ServerCommand.Create());
        root.Subcommands.Add(IdCommand.Create());
        root.Subcommands.Add(PeerCommands.CreateListen());
        root.Subcommands.Add(PeerCommands.CreateConnect());
        root.Subcommands.Add(ExposeCommand.Create());
        root.Subcommands.Add(ForwardCommand.Create());
        root.Subcommands.Add(PingCommand.Create());
        root.Subcommands.Add(NetcheckCommand.Create());
        root.Subcommands.Add(PortmapCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root;
    }
}
