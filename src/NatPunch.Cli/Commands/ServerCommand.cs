using System.CommandLine;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NatPunch.Server;
using NatPunch.Server.Hosting;

namespace NatPunch.Cli.Commands;

/// <summary><c>natpunch server</c>: STUN over UDP and TCP (and, as they are built, TURN and rendezvous) on one port.</summary>
internal static class ServerCommand
{
    public static Command Create()
    {
        var listen = new Option<string[]>("--listen")
        {
            Description = "IP:PORT to serve on, over UDP and TCP; repeat for several. Default: [::]:3478 (IPv4 and IPv6).",
            AllowMultipleArgumentsPerToken = false,
        };
        var altAddress = new Option<string?>("--alt-address")
        {
            Description = "A second IP of this host. Enables RFC 5780 NAT behaviour discovery: the first --listen IP "
                + "(which must then be a specific IP) and this one are served on PORT and PORT+1.",
        };
        var token = new Option<string?>("--token")
        {
            Description = "Require peers to present this secret to register with the rendezvous service.",
        };
        var verbose = new Option<bool>("--verbose") { Description = "Log every connection and drop (debug level)." };
        var command = new Command("server", "Run the NatPunch server: a standard STUN server (RFC 8489, RFC 5780) on UDP and TCP, and the rendezvous service that introduces peers, on one port.")
        {
            listen, altAddress, token, verbose,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var endPoints = new List<IPEndPoint>();
            foreach (string text in parse.GetValue(listen) ?? [])
            {
                if (!EndPointArgument.TryParseIPEndPoint(text, out IPEndPoint endPoint, out string error))
                {
                    return Usage($"--listen: {error}");
                }
                endPoints.Add(endPoint);
            }
            IPAddress? alternate = null;
            if (parse.GetValue(altAddress) is { } altText)
            {
                if (!IPAddress.TryParse(altText, out alternate))
                {
                    return Usage($"--alt-address: '{altText}' is not an IP address");
                }
                if (endPoints.Count == 0 || endPoints[0].Address.Equals(IPAddress.Any) || endPoints[0].Address.Equals(IPAddress.IPv6Any))
                {
                    return Usage("--alt-address needs a specific first --listen IP (RFC 5780 reports exact addresses), e.g. --listen 192.0.2.1:3478 --alt-address 192.0.2.2");
                }
                if (alternate.AddressFamily != endPoints[0].AddressFamily)
                {
                    return Usage("--alt-address must be of the same family (IPv4/IPv6) as the first --listen address");
                }
            }
            var options = new NatPunchServerOptions
            {
                Listen = endPoints,
                AlternateAddress = alternate,
                Rendezvous = NatPunch.Server.Rendezvous.RendezvousOptions.Default with { Token = parse.GetValue(token) },
            };
            return await RunAsync(options, parse.GetValue(verbose), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(NatPunchServerOptions options, bool verbose, CancellationToken cancellationToken)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(sp => new NatPunchServer(options, sp.GetRequiredService<ILogger<NatPunchServer>>()));
        builder.Services.AddHostedService<NatPunchServerHostedService>();
        using IHost host = builder.Build();
        NatPunchServer server = host.Services.GetRequiredService<NatPunchServer>();
        try
        {
            server.Start();
        }
        catch (System.Net.Sockets.SocketException e)
        {
            Console.Error.WriteLine($"natpunch server: {e.Message}");
            await server.DisposeAsync();
            return 1;
        }
        await host.RunAsync(cancellationToken);
        return 0;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"natpunch server: {message}");
        return Program.UsageError;
    }
}
