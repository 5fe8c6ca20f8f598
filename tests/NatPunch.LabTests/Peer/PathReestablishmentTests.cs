using System.Globalization;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// A path that dies under a running session is re-established through the rendezvous
/// (PathSupervisor: consent lost after <c>--dead-after</c>, ICE restart), and the stream above
/// carries on: 20 MB each way, fed at 1 MB/s so that data is in flight on both sides throughout,
/// while all UDP through the port-restricted router is dropped for longer than <c>--dead-after</c>,
/// twice (the second outage hits a session that was re-established once already). Both peers
/// often notice the dead path at the same moment: the case where they used to restart each
/// other endlessly (PathSupervisor, restart rounds).
/// </summary>
[Collection(LabCollection.Name)]
public sealed class PathReestablishmentTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private const int DeadAfterSeconds = 3;
    private const int Outages = 2;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(7);

    [Fact]
    public async Task SessionSurvivesUdpBlockedLongerThanDeadAfterTwice()
    {
        lab.Require();
        var timeline = new List<string>();
        TransferResult result = await Transfer.RunAsync(lab, files, new Site("open", 1), new Site("port", 1),
            new PipeRunOptions
            {
                WorkDirectory = files.Directory.FullName,
                BytesPerSecond = 1_000_000,
                DeadAfterSeconds = DeadAfterSeconds,
                // This test is about re-establishing the direct path. With the relay allowed, a
                // restart that runs while UDP is still blocked may nominate the relay once the
                // block ends and upgrade to direct a moment later (seen in CI: relay, then direct
                // 0.2 s after); RelayPairTests covers that upgrade.
                Relay = "never",
                // Likewise a restart during the outage may find a punched TCP path and move back to
                // UDP afterwards (two more connected events); TcpPunchingTests covers that move.
                ListenerArguments = ["--no-tcp-punch"],
                ConnectorArguments = ["--no-tcp-punch"],
            },
            limit: TimeSpan.FromSeconds(120),
            // Two outages, two re-establishments; a loaded CI machine may add a spurious one, which is
            // no failure (a restart storm, peers restarting each other, gives dozens).
            connectedEvents: 1 + Outages,
            maxConnectedEvents: 2 + Outages,
            during: async run =>
            {
                for (int outage = 1; outage <= Outages; outage++)
                {
                    timeline.Add(await OutageAsync(run, outage));
                }
            });
        LabReport.Write("reestablish", $"{result.Summary}\n    {string.Join("\n    ", timeline)}");
    }

    /// <summary>
    /// Blocks UDP at the port router for <see cref="Outage"/>, then waits for both ends to report
    /// connected once more. Data keeps flowing before and after (the inputs are fed at 1 MB/s).
    /// </summary>
    private async Task<string> OutageAsync(PipeRun run, int outage)
    {
        // Let data flow on the path for a moment.
        await Task.Delay(TimeSpan.FromSeconds(1));
        int before = run.Connector!.EventsNamed("connected").Count;
        int beforeListener = run.Listener!.EventsNamed("connected").Count;
        TimeSpan blocked, unblocked;
        await using (LabKnob block = await LabKnob.BlockUdpAsync(lab, "port"))
        {
            blocked = run.Clock.Elapsed;
            await Task.Delay(Outage);
            unblocked = run.Clock.Elapsed;
        }
        (run.Listener.HasExited || run.Connector.HasExited).ShouldBeFalse($"a side ended during outage {outage} (the inputs ran out too early?)\n{run.Diagnostics()}");
        PeerEvent? lost = run.Listener.EventsNamed("path_lost").Concat(run.Connector.EventsNamed("path_lost")).Where(e => e.At > blocked).MinBy(e => e.At);
        lost.ShouldNotBeNull($"neither side noticed {Outage.TotalSeconds} s without UDP (--dead-after {DeadAfterSeconds}), outage {outage}\n{run.Diagnostics()}");
        PeerEvent? again = await run.Connector.WaitForEventAsync("connected", TimeSpan.FromSeconds(60), occurrence: before + 1);
        again.ShouldNotBeNull($"connect: no new connected event within 60 s of the end of outage {outage}\n{run.Diagnostics()}");
        PeerEvent? listenerAgain = await run.Listener.WaitForEventAsync("connected", TimeSpan.FromSeconds(20), occurrence: beforeListener + 1);
        listenerAgain.ShouldNotBeNull($"listen: no new connected event after outage {outage}\n{run.Diagnostics()}");
        string noticed = string.Join(", ", new[] { run.Listener, run.Connector }
            .Select(p => (p, e: p.EventsNamed("path_lost").FirstOrDefault(e => e.At > blocked)))
            .Where(x => x.e is not null)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.p.Name.Split(' ')[0]} after {(x.e!.At - blocked).TotalSeconds:0.0} s ({(x.e.String("reason") ?? "").Split(';')[0]})")));
        return string.Create(CultureInfo.InvariantCulture,
            $"outage {outage}: UDP blocked at {blocked.TotalSeconds:0.0} s for {(unblocked - blocked).TotalSeconds:0.0} s; path_lost: {noticed}; "
            + $"connected again {(again.At - unblocked).TotalSeconds:0.0} s after unblocking (restart elapsed_ms: connect {again.Long("elapsed_ms")}, listen {listenerAgain.Long("elapsed_ms")})");
    }
}
