using NatPunch.Session;
using NatPunch.Tests.Traversal;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Session;

/// <summary>
/// The real path manager in the virtual network, on the fake clock: a NAT that reboots under a
/// working session (its mappings gone, new ports for everything) kills the path; both peers notice
/// by consent, restart ICE through the simulated rendezvous, and carry on over the new mapping.
/// </summary>
public class PathRestartSimulationTests
{
    private static readonly NatBehavior RandomPorts = NatBehavior.PortRestrictedCone with { Name = "port-restricted, random ports", PortAssignment = PortAssignment.Random };
    private static readonly IceAgentOptions Ice = IceAgentOptions.Default with { ConsentTimeout = TimeSpan.FromSeconds(15) };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ANatRebootUnderASessionIsSurvivedByARestartThroughTheRendezvous(int seed)
    {
        var scenario = new IntroductionScenario(seed, RandomPorts, NatBehavior.PortRestrictedCone, options: Ice);
        ConnectionOutcome outcome = scenario.ListenAndConnect(TimeSpan.FromSeconds(10));
        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        SimulatedPeer listener = scenario.Listener, connector = scenario.Connector;
        Simulator simulator = scenario.Simulator;
        simulator.RunFor(TimeSpan.FromSeconds(5));
        listener.PathEvents.ShouldHaveSingleItem().Event.ShouldBeOfType<PathEvent.Connected>().First.ShouldBeTrue();
        int oldPort = connector.PathEvents.Single().Event.ShouldBeOfType<PathEvent.Connected>().Selection.Remote.EndPoint.Port;

        TimeSpan rebootAt = simulator.Now;
        listener.Router.FlushMappings();
        bool BackOnAPath(SimulatedPeer peer) => peer.PathEvents.Any(e => e.Event is PathEvent.Connected { First: false });
        simulator.RunUntil(() => BackOnAPath(listener) && BackOnAPath(connector), TimeSpan.FromSeconds(60))
            .ShouldBeTrue($"no new path within 60 s of the reboot\n{string.Join('\n', scenario.Log)}\n{scenario.Diagnostics()}");

        foreach (SimulatedPeer peer in new[] { listener, connector })
        {
            peer.PathEvents.ShouldContain(e => e.Event is PathEvent.Lost, $"{peer.Name} never lost the path");
            peer.PathEvents.ShouldNotContain(e => e.Event is PathEvent.Ended || e.Event is PathEvent.Failed);
            peer.Round.ShouldBeGreaterThanOrEqualTo(1);
            (TimeSpan at, PathEvent e) = peer.PathEvents.Last(e => e.Event is PathEvent.Connected { First: false });
            // Consent notices within its timeout (15 s) and the round needs a gathering and a few round trips.
            (at - rebootAt).ShouldBeLessThan(TimeSpan.FromSeconds(25), scenario.Diagnostics());
        }
        // The connector now reaches the listener through the reboot's new mapping.
        var reconnected = (PathEvent.Connected)connector.PathEvents.Last(e => e.Event is PathEvent.Connected { First: false }).Event;
        reconnected.Selection.Remote.EndPoint.Address.ShouldBe(listener.Router.PublicAddress);
        reconnected.Selection.Remote.EndPoint.Port.ShouldNotBe(oldPort);
        listener.Round.ShouldBe(connector.Round, "both peers meet in one round");
        byte[] data = [1, 2, 3, 4];
        connector.SendData(data);
        simulator.RunFor(TimeSpan.FromSeconds(1));
        listener.DataReceived.ShouldContain(d => d.SequenceEqual(data), "sealed data after the restart, with the session's first keys");
    }
}
