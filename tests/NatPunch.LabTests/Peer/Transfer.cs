using System.Globalization;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>What a two-way transfer between lab hosts gave.</summary>
public sealed record TransferResult(Site Listener, Site Connector, string ConnectorRemote, string ListenerRemote,
    long ConnectorElapsedMs, long ListenerElapsedMs, TimeSpan Duration, int ConnectorConnectedEvents = 1, int ListenerConnectedEvents = 1)
{
    /// <summary>Megabytes (10^6) per second in each direction, both running at once.</summary>
    public double MegabytesPerSecondEachWay => TransferFiles.Size / 1e6 / Duration.TotalSeconds;

    public string Summary =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Listener,-6} <- {Connector,-6} direct: connector -> {ConnectorRemote} in {ConnectorElapsedMs} ms, listener -> {ListenerRemote} in {ListenerElapsedMs} ms; "
            + $"20 MB each way in {Duration.TotalSeconds:0.00} s ({MegabytesPerSecondEachWay:0.0} MB/s = {MegabytesPerSecondEachWay * 8:0} Mbit/s each way)")
        + (ConnectorConnectedEvents > 1 || ListenerConnectedEvents > 1
            ? $"; connected events: connector {ConnectorConnectedEvents.ToString(CultureInfo.InvariantCulture)}, listener {ListenerConnectedEvents.ToString(CultureInfo.InvariantCulture)}"
            : "");
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
    /// </summary>
    public static async Task<TransferResult> RunAsync(LabFixture lab, TransferFiles files, Site listener, Site connector,
        PipeRunOptions? options = null, TimeSpan? limit = null, int connectedEvents = 1, int? maxConnectedEvents = null, Func<PipeRun, Task>? during = null)
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
        CheckConnected(run.Connector, connectedEvents, maxConnectedEvents ?? connectedEvents, expectedByConnector, why);
        CheckConnected(run.Listener, connectedEvents, maxConnectedEvents ?? connectedEvents, expectedByListener, why);

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
            run.Connector.EventsNamed("connected").Count, run.Listener.EventsNamed("connected").Count);
    }

    private static void CheckConnected(PeerProcess end, int min, int max, string expectedRemoteHost, string why)
    {
        IReadOnlyList<PeerEvent> connected = end.EventsNamed("connected");
        connected.Count.ShouldBeInRange(min, max, $"{end.Name}: connected events\n{why}");
        foreach (PeerEvent e in connected)
        {
            e.String("path").ShouldBe("direct", $"{end.Name}: {e}\n{why}");
            e.String("transport").ShouldBe("udp", $"{end.Name}: {e}\n{why}");
            PipeChecks.HostOf(e.String("remote")).ShouldBe(expectedRemoteHost, $"{end.Name}: {e}\n{why}");
            (e.Long("elapsed_ms") ?? -1).ShouldBeGreaterThanOrEqualTo(0, $"{end.Name}: {e}\n{why}");
        }
    }
}
