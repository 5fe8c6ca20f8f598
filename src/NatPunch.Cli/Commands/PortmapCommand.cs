using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using NatPunch.PortMapping;

namespace NatPunch.Cli.Commands;

/// <summary>
/// <c>natpunch portmap [--port N] [--protocol pcp|nat-pmp|upnp]... [--lifetime S] [--echo] [--json]</c>:
/// asks the default gateway to open a UDP port (PCP, then NAT-PMP, then UPnP-IGD), prints the
/// external address, keeps the mapping renewed until interrupted, then removes it. With --echo the
/// port is bound and every datagram sent back, so that the mapping can be tried from outside.
/// Exit 0 after a mapping was made and removed, 1 when no protocol mapped, 2 on a usage error.
/// </summary>
internal static class PortmapCommand
{
    public static Command Create()
    {
        var port = new Option<int>("--port")
        {
            HelpName = "PORT",
            Description = "The local UDP port to open (default: a free one, bound for --echo).",
        };
        port.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 65535)
            {
                r.AddError("--port: expected 1-65535");
            }
        });
        var protocols = new Option<string[]>("--protocol")
        {
            HelpName = "pcp|nat-pmp|upnp",
            Description = "Only this protocol (repeatable, tried in the order given). Default: PCP, then NAT-PMP, then UPnP-IGD.",
            AllowMultipleArgumentsPerToken = false,
        };
        protocols.Validators.Add(r =>
        {
            foreach (string name in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!PortMappingProtocolNames.TryParse(name, out _))
                {
                    r.AddError($"--protocol: '{name}' is not pcp, nat-pmp or upnp");
                }
            }
        });
        var lifetime = new Option<int>("--lifetime")
        {
            HelpName = "SECONDS",
            Description = $"The lease to ask for; renewed half way through. Default {(int)PortMapper.DefaultLifetime.TotalSeconds}.",
            DefaultValueFactory = _ => (int)PortMapper.DefaultLifetime.TotalSeconds,
        };
        lifetime.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 30 or > 86400)
            {
                r.AddError("--lifetime: expected 30-86400 seconds");
            }
        });
        var echo = new Option<bool>("--echo") { Description = "Bind the port and send every datagram back to its sender (to try the mapping from outside)." };
        var json = new Option<bool>("--json") { Description = "Events on stdout as one JSON object per line: mapped, renewed, unavailable, removed." };
        var command = new Command("portmap", "Ask the gateway to open a UDP port (PCP, NAT-PMP or UPnP-IGD), print the external address, "
            + "and keep it open until interrupted (Ctrl-C); the mapping is removed at exit.")
        {
            port, protocols, lifetime, echo, json,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(port),
            [.. (parse.GetValue(protocols) ?? []).Select(n => PortMappingProtocolNames.TryParse(n, out PortMappingProtocol p) ? p : default)],
            TimeSpan.FromSeconds(parse.GetValue(lifetime)),
            parse.GetValue(echo),
            parse.GetValue(json),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error,
            cancellationToken));
        return command;
    }

    internal static async Task<int> RunAsync(int port, IReadOnlyList<PortMappingProtocol> protocols, TimeSpan lifetime, bool echo, bool json,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using Socket? socket = echo || port == 0 ? BindUdp(port) : null;
        int localPort = socket is null ? port : ((IPEndPoint)socket.LocalEndPoint!).Port;
        await using var mapper = new PortMapper(lifetime: lifetime, protocols: protocols.Count > 0 ? protocols : null);
        if (mapper.Route is null)
        {
            Report(output, error, json, new JsonObject { ["event"] = "unavailable", ["reason"] = "no IPv4 default gateway" },
                "natpunch: no IPv4 default gateway to ask");
            return 1;
        }
        mapper.Changed += lease =>
        {
            if (lease is not null)
            {
                Report(output, error, json, Event("mapped", lease, mapper.Route.Local), Describe(lease, mapper.Route.Local));
            }
        };
        mapper.Renewed += lease => Report(output, error, json, Event("renewed", lease, mapper.Route.Local),
            $"natpunch: renewed {lease.External} ({lease.Protocol.DisplayName()}, lease {lease.Lifetime.TotalSeconds:0} s)");
        if (await mapper.MapUdpAsync(localPort, cancellationToken).ConfigureAwait(false) is not { } first)
        {
            string reason = string.Join("; ", mapper.Failures);
            Report(output, error, json, new JsonObject { ["event"] = "unavailable", ["gateway"] = mapper.Route.Gateway.ToString(), ["reason"] = reason },
                $"natpunch: the gateway {mapper.Route.Gateway} mapped nothing: {reason}");
            return 1;
        }
        if (!json)
        {
            await error.WriteLineAsync("natpunch: holding the mapping; Ctrl-C removes it").ConfigureAwait(false);
        }
        try
        {
            await (socket is not null && echo ? EchoAsync(socket, cancellationToken) : Task.Delay(Timeout.Infinite, cancellationToken)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Interrupted: remove the mapping below.
        }
        PortMappingLease last = mapper.Current ?? first;
        await mapper.DisposeAsync().ConfigureAwait(false);
        Report(output, error, json, Event("removed", last, mapper.Route.Local), $"natpunch: removed the mapping of {last.External}");
        return 0;
    }

    private static Socket BindUdp(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Any, port));
        return socket;
    }

    private static async Task EchoAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        while (true)
        {
            SocketReceiveFromResult received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken)
                .ConfigureAwait(false);
            await socket.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, received.RemoteEndPoint, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private static JsonObject Event(string name, PortMappingLease lease, IPAddress local) => new()
    {
        ["event"] = name,
        ["protocol"] = lease.Protocol.ToWire(),
        ["external"] = lease.External.ToString(),
        ["internal"] = new IPEndPoint(local, lease.InternalPort).ToString(),
        ["lifetime_s"] = (long)lease.Lifetime.TotalSeconds,
        ["behind_another_nat"] = lease.BehindAnotherNat,
    };

    private static string Describe(PortMappingLease lease, IPAddress local) =>
        $"{lease.External} -> {new IPEndPoint(local, lease.InternalPort)} (UDP, {lease.Protocol.DisplayName()}, "
        + (lease.Lifetime == TimeSpan.Zero ? "permanent until removed" : $"lease {lease.Lifetime.TotalSeconds:0} s, renewed half way") + ")"
        + (lease.BehindAnotherNat ? "; not a public address: the gateway is behind another NAT" : "");

    private static readonly Lock OutputGate = new();

    /// <summary>JSON on stdout, or the sentence: the external address on stdout (what a script wants), the rest on stderr.</summary>
    private static void Report(TextWriter output, TextWriter error, bool json, JsonObject line, string sentence)
    {
        lock (OutputGate)
        {
            if (json)
            {
                output.WriteLine(line.ToJsonString());
                output.Flush();
            }
            else if ((string?)line["event"] == "mapped")
            {
                output.WriteLine(sentence);
                output.Flush();
            }
            else
            {
                error.WriteLine(sentence);
            }
        }
    }
}
