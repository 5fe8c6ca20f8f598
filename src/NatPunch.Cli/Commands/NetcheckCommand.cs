using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using NatPunch.Discovery;
using NatPunch.PortMapping;
using NatPunch.Protocol.Stun;

namespace NatPunch.Cli.Commands;

/// <summary>
/// <c>natpunch netcheck --server HOST:PORT [--json] [--lifetime] [--timeout SECONDS]</c>: what the
/// network between this host and a STUN server does to UDP (RFC 5780 NAT behaviour discovery), in a
/// table or as one JSON object (keys in docs/netcheck.md). Progress goes to stderr in words.
/// Exit 0 when the check ran, 1 when the server could not be reached at all, 2 on a usage error.
/// </summary>
internal static partial class NetcheckCommand
{
    /// <summary>Exit code when the server answers neither over UDP nor over TCP, or its name does not resolve.</summary>
    public const int Unreachable = 1;

    public static Command Create()
    {
        var server = new Option<string>("--server")
        {
            Description = "STUN server as HOST:PORT (port 3478 if left out; IPv6 as [ADDRESS]:PORT). Mapping and filtering need a server with RFC 5780 support.",
            Required = true,
        };
        server.Validators.Add(result =>
        {
            if (!HostAndPort.TryParse(result.GetValueOrDefault<string>(), StunConstants.DefaultPort, out _, out string error))
            {
                result.AddError($"--server: {error}");
            }
        });
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on stdout instead of the table (keys: docs/netcheck.md)." };
        var lifetime = new Option<bool>("--lifetime")
        {
            Description = "Also estimate how long an idle UDP mapping lives (RFC 5780 §4.6). Takes up to 5 minutes.",
        };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Give up on tests still unanswered after this many seconds (default 10).",
            DefaultValueFactory = _ => 10,
        };
        timeout.Validators.Add(result =>
        {
            double seconds = result.GetValueOrDefault<double>();
            if (!(seconds > 0 && seconds <= 3600))
            {
                result.AddError("--timeout: expected a number of seconds greater than 0 and at most 3600");
            }
        });

        var noPortMapping = new Option<bool>("--no-port-mapping")
        {
            Description = "Do not ask the default gateway which port-mapping protocols it speaks (PCP, NAT-PMP, UPnP). Not asked either when the server is on this host (loopback).",
        };
        var command = new Command("netcheck", "Check the network path to a STUN server: public address, NAT mapping and filtering (RFC 5780), hairpinning, UDP and TCP reachability, round-trip time; and which port-mapping protocols the gateway speaks (PCP, NAT-PMP, UPnP).")
        {
            server, json, lifetime, timeout, noPortMapping,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(server)!,
            parse.GetValue(json),
            parse.GetValue(lifetime),
            TimeSpan.FromSeconds(parse.GetValue(timeout)),
            parse.GetValue(noPortMapping),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error,
            cancellationToken));
        return command;
    }

    internal static async Task<int> RunAsync(string server, bool json, bool lifetime, TimeSpan timeout, bool noPortMapping,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (!HostAndPort.TryParse(server, StunConstants.DefaultPort, out HostAndPort hostAndPort, out string parseError))
        {
            await error.WriteLineAsync($"natpunch: --server: {parseError}").ConfigureAwait(false);
            return Program.UsageError;
        }
        var progress = new WordsProgress(error);

        IPEndPoint endPoint;
        try
        {
            progress.Report($"Resolving {hostAndPort}");
            using var resolveTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            resolveTimeout.CancelAfter(timeout);
            endPoint = await hostAndPort.ResolveAsync(cancellationToken: resolveTimeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            string reason = ex is SocketException socket
                ? $"cannot resolve '{hostAndPort.Host}': {socket.Message}"
                : $"cannot resolve '{hostAndPort.Host}' within {timeout.TotalSeconds:0.#} s";
            await error.WriteLineAsync($"natpunch: {reason}").ConfigureAwait(false);
            if (json)
            {
                await output.WriteLineAsync(FormatJsonError(hostAndPort, reason)).ConfigureAwait(false);
            }
            return Unreachable;
        }

        var options = NatDiscoveryOptions.Default with
        {
            Timeout = timeout,
            MappingLifetime = lifetime ? MappingLifetimeOptions.Default : null,
            Software = "natpunch netcheck",
        };
        if (options.Retransmission.ReliableTimeout > timeout)
        {
            options = options with { Retransmission = options.Retransmission with { ReliableTimeout = timeout } };
        }
        if (lifetime)
        {
            progress.Report($"The mapping lifetime search will take up to {options.MappingLifetime!.Budget.TotalMinutes:0} minutes");
        }

        // The gateway is asked about port mapping (PCP, NAT-PMP, UPnP) while the STUN tests run; not
        // for a server on this host, whose peers are on this host too (and tests stay off the real LAN).
        Task<PortMappingReport>? portMapping = noPortMapping || IPAddress.IsLoopback(endPoint.Address)
            ? null
            : PortMappingReport.ProbeAsync(cancellationToken);
        NatReport report = await new NatDiscovery(options).RunAsync(endPoint, progress, cancellationToken).ConfigureAwait(false);
        PortMappingReport? mappingReport = portMapping is null ? null : await portMapping.ConfigureAwait(false);

        string? failure = report.ServerReachable
            ? null
            : $"cannot reach the STUN server {hostAndPort} ({endPoint}): UDP: {report.UdpReason ?? "no answer"}; TCP: {report.TcpReason ?? "no answer"}";
        await output.WriteAsync(json ? FormatJson(hostAndPort, report, failure, mappingReport) + Environment.NewLine : FormatTable(hostAndPort, report, mappingReport)).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (failure is not null)
        {
            await error.WriteLineAsync($"natpunch: {failure}").ConfigureAwait(false);
            return Unreachable;
        }
        return 0;
    }

    /// <summary>Writes each progress sentence to stderr at once, in order (unlike <see cref="Progress{T}"/>, which posts).</summary>
    private sealed class WordsProgress(TextWriter error) : IProgress<string>
    {
        // Guards the writer: probes report from the discovery loop, resolution from the caller.
        private readonly Lock _lock = new();

        public void Report(string value)
        {
            lock (_lock)
            {
                error.WriteLine(value);
            }
        }
    }
}
