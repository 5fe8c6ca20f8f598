using System.CommandLine;
using NatPunch.Security;

namespace NatPunch.Cli.Commands;

/// <summary>
/// <c>natpunch id [--identity FILE]</c>: prints this peer's public key on one line (stdout), the form
/// that <c>--peer-key</c>, <c>--allow</c> and the known-peers file take. Creates the identity on first use.
/// </summary>
internal static class IdCommand
{
    public static Command Create()
    {
        var identity = new Option<string?>("--identity")
        {
            HelpName = "FILE",
            Description = "The identity file (default: $XDG_CONFIG_HOME/natpunch/identity, ~/.config/natpunch/identity); created, mode 0600, if missing.",
        };
        var command = new Command("id", "Print this peer's public key, one line: what other peers pin with --peer-key or --allow.");
        command.Options.Add(identity);
        command.SetAction(parse =>
        {
            string path = parse.GetValue(identity) ?? IdentityFile.DefaultPath;
            try
            {
                using PeerIdentity loaded = IdentityFile.LoadOrCreate(path, out bool created);
                if (created)
                {
                    Console.Error.WriteLine($"natpunch: created a new identity in {path}");
                }
                Console.Out.WriteLine(loaded.PublicKey);
                return 0;
            }
            catch (IdentityFileException e)
            {
                Console.Error.WriteLine($"natpunch: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
