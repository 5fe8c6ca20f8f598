using System.CommandLine;

namespace NatPunch.Cli.Commands;

internal static class ServerCommand
{
    public static Command Create()
    {
        var listen = new Option<string[]>("--listen") { Description = "IP:PORT to serve on, UDP and TCP (repeatable). Default 0.0.0.0:3478 and [::]:3478." };
        var command = new Command("server", "Run the STUN server (and, as they are built, TURN and rendezvous).") { listen };
        command.SetAction((parse, cancel) => Task.FromResult(0));
        return command;
    }
}
