using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NatPunch.Discovery.Internal;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;
using NatPunch.Stun.Internal;

namespace NatPunch.Discovery;

/// <summary>
/// Finds out how the NAT (if any) between this host and a STUN server behaves — RFC 5780 §4 mapping,
/// filtering, hairpinning and optionally the mapping lifetime — and whether UDP and TCP get through.
/// The procedure itself is a core without I/O; this class runs its probes on <see cref="StunClient"/>s,
/// one UDP socket per role, with one loop that owns the core.
/// </summary>
public sealed partial class NatDiscovery
{
    private readonly NatDiscoveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;

    public NatDiscovery(NatDiscoveryOptions? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options ?? NatDiscoveryOptions.Default;
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<NatDiscovery>();
    }

    /// <summary>Resolves <paramref name="server"/> (HOST:PORT, port 3478 if left out) and runs the discovery against it.</summary>
    /// <exception cref="ArgumentException"><paramref name="server"/> is not HOST:PORT.</exception>
    /// <exception cref="SocketException">The name does not resolve.</exception>
    public async Task<NatReport> RunAsync(string server, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!HostAndPort.TryParse(server, StunConstants.DefaultPort, out HostAndPort hostAndPort, out string error))
        {
            throw new ArgumentException(error, nameof(server));
        }
        progress?.Report($"Resolving {hostAndPort}");
        IPEndPoint endPoint = await hostAndPort.ResolveAsync(_options.LocalEndPoint?.AddressFamily, cancellationToken).ConfigureAwait(false);
        return await RunAsync(endPoint, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the discovery against the server at <paramref name="server"/>. Always returns a report,
    /// also when the server cannot be reached (<see cref="NatReport.ServerReachable"/> is then false).
    /// </summary>
    /// <param name="progress">Receives a sentence as each test starts and as the first answer comes.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<NatReport> RunAsync(IPEndPoint server, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        server = SocketAddressing.Normalize(server);
        long epoch = _time.GetTimestamp();
        TimeSpan Now() => _time.GetElapsedTime(epoch);

        IPEndPoint bind = _options.LocalEndPoint
                          ?? new IPEndPoint(server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        var clientOptions = new StunClientOptions { Retransmission = _options.Retransmission, Software = _options.Software };
        ILogger<StunClient> clientLogger = _loggerFactory.CreateLogger<StunClient>();
        var sockets = new Dictionary<int, StunClient>();
        StunClient primary = new(clientOptions with { LocalEndPoint = bind }, _time, clientLogger);
        sockets[DiscoverySockets.Primary] = primary;

        var local = new IPEndPoint(LocalRoute.SourceAddressFor(server, primary.LocalEndPoint.Address), primary.LocalEndPoint.Port);
        var core = new NatDiscoveryStateMachine(server, local, _options);
        var completions = Channel.CreateUnbounded<(DiscoveryProbe Probe, ProbeOutcome Outcome)>(new UnboundedChannelOptions { SingleReader = true });
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<Task>();
        LogStarting(server, local);

        StunClient Socket(int id)
        {
            if (!sockets.TryGetValue(id, out StunClient? client))
            {
                client = new StunClient(clientOptions with { LocalEndPoint = new IPEndPoint(primary.LocalEndPoint.Address, 0) }, _time, clientLogger);
                sockets[id] = client;
            }
            return client;
        }

        void Launch(IReadOnlyList<DiscoveryProbe> probes)
        {
            List<DiscoveryProbe> binds = [.. probes.Where(p => p.Purpose == ProbePurpose.LifetimeBind)];
            if (binds.Count > 0)
            {
                progress?.Report($"Mapping lifetime: leaving {binds.Count} new mappings idle for {string.Join(", ", binds.Select(p => p.Idle.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)))} s");
            }
            foreach (DiscoveryProbe probe in probes)
            {
                if (probe.Purpose != ProbePurpose.LifetimeBind)
                {
                    progress?.Report(Capitalize(probe.ToString()));
                }
                LogProbe(probe.Id, probe.ToString());
                StunClient? client = probe.SocketId == DiscoverySockets.None ? null : Socket(probe.SocketId);
                StunClient? receiver = probe.ReceiverSocketId == DiscoverySockets.None ? null : Socket(probe.ReceiverSocketId);
                running.Add(RunProbeAsync(probe, client, receiver, completions.Writer, abandon.Token));
            }
        }

        NatReport report;
        try
        {
            DiscoveryStep step = core.Poll(Now());
            Launch(step.Start);
            Task<bool>? read = null;
            while (!step.IsComplete)
            {
                read ??= completions.Reader.WaitToReadAsync(cancellationToken).AsTask();
                if (step.WakeUp is { } wakeUp)
                {
                    TimeSpan delay = wakeUp - Now();
                    if (delay > TimeSpan.Zero)
                    {
                        using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        await Task.WhenAny(read, Task.Delay(delay, _time, stopDelay.Token)).ConfigureAwait(false);
                        stopDelay.Cancel();
                    }
                }
                else
                {
                    await Task.WhenAny(read).ConfigureAwait(false);
                }
                cancellationToken.ThrowIfCancellationRequested();
                if (read.IsCompleted)
                {
                    read = null;
                }
                while (!core.IsComplete && completions.Reader.TryRead(out (DiscoveryProbe Probe, ProbeOutcome Outcome) done))
                {
                    LogOutcome(done.Probe.Id, done.Outcome.Result, done.Outcome.Response?.ToString() ?? done.Outcome.Detail);
                    ReportOutcome(progress, done.Probe, done.Outcome);
                    Launch(core.OnProbeCompleted(done.Probe.Id, done.Outcome, Now()).Start);
                }
                step = core.Poll(Now());
                Launch(step.Start);
            }
            report = core.BuildReport(Now());
        }
        finally
        {
            // Probes the core no longer needs (superseded, or past the deadline) are abandoned here.
            abandon.Cancel();
            await Task.WhenAll(running).ConfigureAwait(false);
            foreach (StunClient client in sockets.Values)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
        return report with { MalformedDatagrams = sockets.Values.Sum(s => s.MalformedDatagrams) };
    }

    /// <summary>Runs one probe and posts its outcome; never throws. Abandoned probes post nothing.</summary>
    private async Task RunProbeAsync(DiscoveryProbe probe, StunClient? client, StunClient? receiver,
        ChannelWriter<(DiscoveryProbe, ProbeOutcome)> completions, CancellationToken cancellationToken)
    {
        ProbeOutcome outcome;
        try
        {
            outcome = probe.Purpose switch
            {
                ProbePurpose.TcpBinding => ProbeOutcome.Answered(
                    await StunClient.SendTcpAsync(new StunRequest(probe.Destination) { Software = _options.Software }, _options.Retransmission, _time, cancellationToken).ConfigureAwait(false),
                    DiscoverySockets.None),
                ProbePurpose.Hairpinning => await RunHairpinAsync(probe, client!, receiver!, cancellationToken).ConfigureAwait(false),
                _ => await RunBindingAsync(probe, client!, receiver, cancellationToken).ConfigureAwait(false),
            };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        catch (StunTransactionTimeoutException ex)
        {
            outcome = ProbeOutcome.TimedOut(ex.Message);
        }
        catch (Exception ex) when (ex is SocketException or IOException or ArgumentException)
        {
            outcome = ProbeOutcome.Failed(ex.Message);
        }
        completions.TryWrite((probe, outcome));
    }

    private static async Task<ProbeOutcome> RunBindingAsync(DiscoveryProbe probe, StunClient client, StunClient? receiver, CancellationToken cancellationToken)
    {
        var request = new StunRequest(probe.Destination)
        {
            ChangeRequest = probe.ChangeRequest,
            ResponsePort = probe.ResponsePort,
            PaddingLength = probe.PaddingLength,
        };
        StunResponse response = await client.SendAsync(request, receiver, cancellationToken).ConfigureAwait(false);
        int socketId = receiver is not null && receiver.LocalEndPoint.Equals(response.ReceivedOn) ? probe.ReceiverSocketId : probe.SocketId;
        return ProbeOutcome.Answered(response, socketId);
    }

    /// <summary>RFC 5780 §4.5: a request from the second socket to the first one's mapped address must arrive on the first.</summary>
    private static async Task<ProbeOutcome> RunHairpinAsync(DiscoveryProbe probe, StunClient sender, StunClient receiver, CancellationToken cancellationToken)
    {
        TransactionId id = TransactionId.NewRandom();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<IPEndPoint> arrived = receiver.WaitForRequestAsync(id, stop.Token);
        Task<StunResponse> sent = sender.SendAsync(new StunRequest(probe.Destination) { TransactionId = id }, stop.Token);
        await Task.WhenAny(arrived, sent).ConfigureAwait(false);
        stop.Cancel();
        cancellationToken.ThrowIfCancellationRequested();
        if (arrived.IsCompletedSuccessfully)
        {
            return ProbeOutcome.Received(probe.ReceiverSocketId);
        }
        try
        {
            await sent.ConfigureAwait(false);
            return ProbeOutcome.Failed($"{probe.Destination} answered the hairpinning probe instead of passing it on");
        }
        catch (StunTransactionTimeoutException ex)
        {
            return ProbeOutcome.TimedOut(ex.Message);
        }
    }

    private static void ReportOutcome(IProgress<string>? progress, DiscoveryProbe probe, ProbeOutcome outcome)
    {
        if (progress is null)
        {
            return;
        }
        switch (probe.Purpose)
        {
            case ProbePurpose.BindingTest when outcome.Response is { IsSuccess: true, MappedAddress: { } mapped } response:
                progress.Report($"The server sees this host as {mapped} (round trip {response.RoundTripTime.TotalMilliseconds:0.#} ms)");
                break;
            case ProbePurpose.BindingTest when outcome.Response is { IsSuccess: false } response:
                progress.Report($"The server answered with error {response.ErrorCode} {response.ErrorReason}".TrimEnd());
                break;
            case ProbePurpose.BindingTest:
                progress.Report("No answer over UDP");
                break;
            case ProbePurpose.LifetimeCheck:
                progress.Report(outcome.Result switch
                {
                    ProbeResult.Response when outcome.ReceivedOnSocketId == probe.ReceiverSocketId => $"Mapping still there after {probe.Idle.TotalSeconds:0.#} s idle",
                    ProbeResult.TimedOut => $"Mapping gone after {probe.Idle.TotalSeconds:0.#} s idle",
                    _ => $"Lifetime check after {probe.Idle.TotalSeconds:0.#} s inconclusive",
                });
                break;
            case ProbePurpose.TcpBinding:
                progress.Report(outcome.Response is not null ? "The server answered over TCP" : $"No answer over TCP ({outcome.Detail ?? outcome.Result.ToString()})");
                break;
        }
    }

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    [LoggerMessage(1, LogLevel.Debug, "Discovery against {Server} from {Local}")]
    private partial void LogStarting(IPEndPoint server, IPEndPoint local);

    [LoggerMessage(2, LogLevel.Debug, "Probe {ProbeId}: {Description}")]
    private partial void LogProbe(int probeId, string description);

    [LoggerMessage(3, LogLevel.Debug, "Probe {ProbeId} ended: {Result} {Detail}")]
    private partial void LogOutcome(int probeId, ProbeResult result, string? detail);
}
