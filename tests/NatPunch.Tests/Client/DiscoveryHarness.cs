using NatPunch.Discovery;
using NatPunch.Discovery.Internal;

namespace NatPunch.Tests.Client;

/// <summary>
/// Runs the discovery core against a <see cref="SimulatedNat"/> on a fake clock: the clock jumps
/// from event to event (an outcome arriving, or the core's wake-up), so minutes pass in microseconds.
/// </summary>
internal static class DiscoveryHarness
{
    public sealed record Run(NatReport Report, TimeSpan Finished, IReadOnlyList<(TimeSpan At, DiscoveryProbe Probe)> Probes);

    public static Run Execute(NatProfile profile, NatDiscoveryOptions? options = null)
    {
        options ??= NatDiscoveryOptions.Default;
        var network = new SimulatedNat(profile);
        var core = new NatDiscoveryStateMachine(SimulatedNat.Server, network.Local(DiscoverySockets.Primary), options);
        var events = new PriorityQueue<(DiscoveryProbe Probe, ProbeOutcome Outcome), (TimeSpan, int)>();
        var probes = new List<(TimeSpan, DiscoveryProbe)>();
        int order = 0;
        TimeSpan now = TimeSpan.Zero;

        void Start(IReadOnlyList<DiscoveryProbe> start)
        {
            foreach (DiscoveryProbe probe in start)
            {
                probes.Add((now, probe));
                (ProbeOutcome outcome, TimeSpan after) = network.Run(probe, now, options);
                events.Enqueue((probe, outcome), (now + after, order++));
            }
        }

        DiscoveryStep step = core.Poll(now);
        Start(step.Start);
        for (int i = 0; !step.IsComplete; i++)
        {
            if (i > 10_000)
            {
                throw new InvalidOperationException("The discovery core did not finish.");
            }
            TimeSpan? next = events.TryPeek(out _, out (TimeSpan At, int) first) ? first.At : null;
            if (step.WakeUp is { } wakeUp && (next is null || wakeUp < next))
            {
                next = wakeUp;
            }
            now = next ?? throw new InvalidOperationException("The discovery core is waiting for nothing.");
            while (!core.IsComplete && events.TryPeek(out _, out (TimeSpan At, int) due) && due.At <= now)
            {
                (DiscoveryProbe probe, ProbeOutcome outcome) = events.Dequeue();
                Start(core.OnProbeCompleted(probe.Id, outcome, now).Start);
            }
            step = core.Poll(now);
            Start(step.Start);
        }
        return new Run(core.BuildReport(now), now, probes);
    }
}
