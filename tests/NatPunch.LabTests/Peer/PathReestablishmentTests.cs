using System.Globalization;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// A path that dies under a running session is re-established through the rendezvous
/// (PathSupervisor: consent lost after <c>--dead-after</c>, ICE restart), and the stream above
/// carries on: 20 MB each way, fed at 2 MB/s so that data is in flight on both sides throughout,
/// while all UDP through the port-restricted router is dropped for longer than <c>--dead-after</c>.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class PathReestablishmentTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private const int DeadAfterSeconds = 3;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(7);

    [Fact]
    public async Task SessionSurvivesUdpBlockedLongerThanDeadAfter()
    {
        lab.Require();
        string timeline = "";
        TransferResult result = await Transfer.RunAsync(lab, files, new Site("open", 1), new Site("port", 1),
            new PipeRunOptions
            {
                WorkDirectory = files.Directory.FullName,
                BytesPerSecond = 2_000_000,
                DeadAfterSeconds = DeadAfterSeconds,
            },
            limit: TimeSpan.FromSeconds(120),
            connectedEvents: 2,
            during: async run =>
            {
                // Let data flow on the first path for a moment.
                await Task.Delay(TimeSpan.FromSeconds(1));
                TimeSpan blocked, unblocked;
                await using (LabKnob block = await LabKnob.BlockUdpAsync(lab, "port"))
                {
                    blocked = run.Clock.Elapsed;
                    await Task.Delay(Outage);
                    unblocked = run.Clock.Elapsed;
                }
                (run.Listener!.HasExited || run.Connector!.HasExited).ShouldBeFalse($"a side ended during the outage\n{run.Diagnostics()}");
                PeerEvent? lost = run.Listener.EventsNamed("path_lost").Concat(run.Connector.EventsNamed("path_lost")).MinBy(e => e.At);
                lost.ShouldNotBeNull($"neither side noticed {Outage.TotalSeconds} s without UDP (--dead-after {DeadAfterSeconds})\n{run.Diagnostics()}");
                PeerEvent? again = await run.Connector.WaitForEventAsync("connected", TimeSpan.FromSeconds(60), occurrence: 2);
                again.ShouldNotBeNull($"no second connected event within 60 s of the end of the outage\n{run.Diagnostics()}");
                PeerEvent? listenerAgain = await run.Listener.WaitForEventAsync("connected", TimeSpan.FromSeconds(10), occurrence: 2);
                timeline = string.Create(CultureInfo.InvariantCulture,
                    $"UDP blocked at {blocked.TotalSeconds:0.0} s for {(unblocked - blocked).TotalSeconds:0.0} s; first path_lost {(lost.At - blocked).TotalSeconds:0.0} s after the block ({lost.String("reason")}); "
                    + $"connected again {(again.At - unblocked).TotalSeconds:0.0} s after unblocking (connector restart elapsed_ms {again.Long("elapsed_ms")}, listener {listenerAgain?.Long("elapsed_ms")})");
            });
        LabReport.Write("reestablish", $"{result.Summary}\n    {timeline}");
    }
}
