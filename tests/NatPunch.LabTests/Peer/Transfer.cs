using System.Globalization;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>What a two-way transfer between lab hosts gave.</summary>
public sealed record TransferResult(Site Listener, Site Connector, string ConnectorRemote, string ListenerRemote,
    long ConnectorElapsedMs, long ListenerElapsedMs, TimeSpan Duration, int ConnectorConnectedEvents = 1, int ListenerConnectedEvents = 1,
    string Path = "direct", string ConnectorTransport = "udp", string ListenerTransport = "udp")
{
    /// <summary>What the two ends' streams sent again, together (their <c>closed</c> events' <c>bytes_retransmitted</c>).</summary>
    public long BytesRetransmitted { get; init; }

    /// <summary>Megabytes (10^6) per second in each direction, both running at once.</summary>
    public double MegabytesPerSecondEachWay => TransferFiles.Size / 1e6 / Duration.TotalSeconds;

    public string Summary =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Listener,-6} <- {Connector,-6} {Path}{Transports}: connector -> {ConnectorRemote} in {ConnectorElapsedMs} ms, listener -> {ListenerRemote} in {ListenerElapsedMs} ms; "
            + $"20 MB each way in {Duration.TotalSeconds:0.00} s ({MegabytesPerSecondEachWay:0.0} MB/s = {MegabytesPerSecondEachWay * 8:0} Mbit/s each way)")
        + (ConnectorConnectedEvents > 1 || ListenerConnectedEvents > 1
            ? $"; connected events: connector {ConnectorConnectedEvents.ToString(CultureInfo.InvariantCulture)}, listener {ListenerConnectedEvents.ToString(CultureInfo.InvariantCulture)}"
            : "");

    /// <summary>Nothing for the usual UDP on both ends, else " (connector tcp, listener udp)".</summary>
    private string Transports => ConnectorTransport == "udp" && ListenerTransport == "udp" ? "" : $" (connector {ConnectorTransport}, listener {ListenerTransport})";
}

/// <summary>
/// What a "connected" event of one end must say: <paramref name="Path"/> ("direct" or "relay"),
/// <paramref name="Transport"/> ("udp", or "tcp" when our leg to the TURN server is TCP), and a remote
/// whose host is one of <paramref name="RemoteHosts"/>.
/// </summary>
public sealed record ExpectedPath(string Path, string Transport, params string[] RemoteHosts)
{
    public static ExpectedPath Direct(string remoteHost) => new("direct", "udp", remoteHost);

    /// <summary>
    /// "udp" becomes "udp or tcp": under loss a relay's UDP allocation may go unanswered long enough for
    /// the TCP one to be granted first. "tcp" (a UDP-blocked end) stays as it is.
    /// </summary>
    public static string UdpUnlessLost(string transport) => transport == "udp" ? "udp or tcp" : transport;

    /// <summary>The transports a <see cref="Transport"/> allows ("udp", "tcp" or "udp or tcp").</summary>
    public static string[] Transports(string transport) => transport.Split(" or ");

    /// <summary>
    /// Through the relay: the remote is the peer's relayed address (on the server) when the peer's
    /// candidate is the relayed one, else the peer's public address as the TURN server sees it.
    /// </summary>
    public static ExpectedPath Relay(LabFixture lab, Site peer, string transport) =>
        new("relay", transport, lab.PublicIp(peer.Kind, peer.Host), LabFixture.ServerIp1, LabFixture.ServerIp2);

    public override string ToString() => $"{Path} over {Transport} to {string.Join(" or ", RemoteHosts)}";
}

/// <summary>
/// The pair checks of the issue: listen on one host, connect from another, 20 MB each way at the
/// same time, and everything the CLI contract promises checked on the way.
/// </summary>
public static class Transfer
{
    /// <summary>
    /// Runs a two-way transfer and checks it: both exit 0; each reports
    /// <paramref name="connectedEvents"/> to <paramref name="maxConnectedEvents"/> (default: exactly
    /// <paramref name="connectedEvents"/>) "connected" events (1, or 2 after a re-establishment), every one
    /// direct over UDP to the peer's expected address (the LAN address behind one NAT, else the
    /// peer's public one); "closed" counts every byte; what arrived has the SHA-256 of what was sent.
    /// <paramref name="during"/> runs once both are connected (block UDP, ...).
    /// <paramref name="connectorPaths"/> / <paramref name="listenerPaths"/>, when given, replace the
    /// "direct over UDP" expectation: the i-th connected event must match the i-th entry (the last
    /// entry for any further event).
    /// </summary>
    public static async Task<TransferResult> RunAsync(LabFixture lab, TransferFiles files, Site listener, Site connector,
        PipeRunOptions? options = null, TimeSpan? limit = null, int connectedEvents = 1, int? maxConnectedEvents = null, Func<PipeRun, Task>? during = null,
        IReadOnlyList<ExpectedPath>? connectorPaths = null, IReadOnlyList<ExpectedPath>? listenerPaths = null)
    {
        options ??= new PipeRunOptions { WorkDirectory = files.Directory.FullName };
        options = options with { ListenerInput = files.FromListener, ConnectorInput = files.FromConnector };
        await using PipeRun run = await PipeRun.StartAsync(lab, listener, connector, options);
        bool finished;
        try
        {
            if (during is not null)
            {
                bool both = await run.Connector!.WaitForEventAsync("connected", TimeSpan.FromSeconds(options.TimeoutSeconds + 30)) is not null
                    && await run.Listener!.WaitForEventAsync("connected", TimeSpan.FromSeconds(10)) is not null;
                both.ShouldBeTrue($"not connected\n{run.Diagnostics()}");
                await during(run);
            }
            finished = await run.WaitForBothAsync(limit ?? TimeSpan.FromSeconds(120));
        }
        catch (Exception ex) when (ex is not ShouldAssertException)
        {
            throw new InvalidOperationException($"{ex.Message}\n{run.Diagnostics()}", ex);
        }
        string why = run.Diagnostics();
        finished.ShouldBeTrue($"still running after {(limit ?? TimeSpan.FromSeconds(120)).TotalSeconds} s\n{why}");
        run.Connector!.ExitCode.ShouldBe(0, $"connect failed\n{why}");
        run.Listener!.ExitCode.ShouldBe(0, $"listen failed\n{why}");

        string expectedByConnector = listener.Kind == connector.Kind ? lab.HostIp(listener.Kind, listener.Host) : lab.PublicIp(listener.Kind, listener.Host);
        string expectedByListener = listener.Kind == connector.Kind ? lab.HostIp(connector.Kind, connector.Host) : lab.PublicIp(connector.Kind, connector.Host);
        CheckConnected(run.Connector, connectedEvents, maxConnectedEvents ?? connectedEvents, connectorPaths ?? [ExpectedPath.Direct(expectedByConnector)], why);
        CheckConnected(run.Listener, connectedEvents, maxConnectedEvents ?? connectedEvents, listenerPaths ?? [ExpectedPath.Direct(expectedByListener)], why);

        foreach (PeerProcess side in new[] { run.Connector, run.Listener })
        {
            PeerEvent closed = side.EventsNamed("closed").ShouldHaveSingleItem($"{side.Name}: one closed event\n{why}");
            closed.Long("bytes_sent").ShouldBe(TransferFiles.Size, $"{side.Name} bytes_sent\n{why}");
            closed.Long("bytes_received").ShouldBe(TransferFiles.Size, $"{side.Name} bytes_received\n{why}");
        }
        PipeChecks.Hash(run.Connector.OutputFile).ShouldBe(files.FromListenerHash,
            $"listener -> connector: {PipeChecks.Difference(files.FromListener, run.Connector.OutputFile)}\n{why}");
        PipeChecks.Hash(run.Listener.OutputFile).ShouldBe(files.FromConnectorHash,
            $"connector -> listener: {PipeChecks.Difference(files.FromConnector, run.Listener.OutputFile)}\n{why}");

        PeerEvent connectorConnected = run.Connector.EventsNamed("connected")[0];
        PeerEvent listenerConnected = run.Listener.EventsNamed("connected")[0];
        TimeSpan start = connectorConnected.At < listenerConnected.At ? connectorConnected.At : listenerConnected.At;
        TimeSpan end = new[] { run.Connector.EventsNamed("closed")[0].At, run.Listener.EventsNamed("closed")[0].At }.Max();
        TransferFiles.Remove(run);
        return new TransferResult(listener, connector,
            connectorConnected.String("remote")!, listenerConnected.String("remote")!,
            connectorConnected.Long("elapsed_ms") ?? -1, listenerConnected.Long("elapsed_ms") ?? -1, end - start,
            run.Connector.EventsNamed("connected").Count, run.Listener.EventsNamed("connected").Count,
            connectorConnected.String("path")!, connectorConnected.String("transport")!, listenerConnected.String("transport")!)
        {
            BytesRetransmitted = (run.Connector.EventsNamed("closed")[0].Long("bytes_retransmitted") ?? 0) + (run.Listener.EventsNamed("closed")[0].Long("bytes_retransmitted") ?? 0),
        };
    }

    private static void CheckConnected(PeerProcess end, int min, int max, IReadOnlyList<ExpectedPath> expected, string why)
    {
        IReadOnlyList<PeerEvent> connected = end.EventsNamed("connected");
        connected.Count.ShouldBeInRange(min, max, $"{end.Name}: connected events\n{why}");
        for (int i = 0; i < connected.Count; i++)
        {
            PeerEvent e = connected[i];
            ExpectedPath want = expected[Math.Min(i, expected.Count - 1)];
            string what = $"{end.Name}: connected event {i + 1} should be {want}: {e}\n{why}";
            e.String("path").ShouldBe(want.Path, what);
            ExpectedPath.Transports(want.Transport).ShouldContain(e.String("transport"), what);
            want.RemoteHosts.ShouldContain(PipeChecks.HostOf(e.String("remote")), what);
            (e.Long("elapsed_ms") ?? -1).ShouldBeGreaterThanOrEqualTo(0, what);
        }
    }
}
