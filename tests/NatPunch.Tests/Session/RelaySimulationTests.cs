using NatPunch.Session;
using NatPunch.Tests.Traversal;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Session;

/// <summary>
/// The session core with a real TURN core in the virtual network, on the fake clock: falling back to
/// the relay where no direct path exists, surviving a TURN server restart under a relayed session,
/// and moving from the relay to a direct path once one opens; the Noise handshake runs for real, and
/// sealed data crosses every path with the session's first keys.
/// </summary>
public class RelaySimulationTests
{
    private static readonly IceAgentOptions Ice = IceAgentOptions.Default with { ConsentTimeout = TimeSpan.FromSeconds(15) };

    private static bool Relayed(IceEvent.Selected path) => path.Local.Type == CandidateType.Relayed || path.Remote.Type == CandidateType.Relayed;

    /// <summary>Sealed stream data each way on the session's current paths arrives and opens.</summary>
    private static void DataFlowsBothWays(IntroductionScenario scenario, string what)
    {
        byte[] fromListener = System.Text.Encoding.UTF8.GetBytes($"listener: {what}"), fromConnector = System.Text.Encoding.UTF8.GetBytes($"connector: {what}");
        scenario.Listener.SendData(fromListener);
        scenario.Connector.SendData(fromConnector);
        scenario.Simulator.RunFor(TimeSpan.FromSeconds(1));
        scenario.Connector.DataReceived.ShouldContain(d => d.SequenceEqual(fromListener), what);
        scenario.Listener.DataReceived.ShouldContain(d => d.SequenceEqual(fromConnector), what);
    }

    /// <summary>A symmetric NAT against a port-restricted one: no direct path (ConnectionMatrixTests), so both end on the relay.</summary>
    private static IntroductionScenario ConnectedThroughTheRelay(int seed)
    {
        var scenario = new IntroductionScenario(seed, NatBehavior.Symmetric, NatBehavior.PortRestrictedCone, options: Ice);
        scenario.AddRelay();
        ConnectionOutcome outcome = scenario.ListenAndConnect(TimeSpan.FromSeconds(20));
        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        scenario.Simulator.RunFor(TimeSpan.FromSeconds(2));
        foreach (SimulatedPeer peer in new[] { scenario.Listener, scenario.Connector })
        {
            peer.PathEvents.ShouldHaveSingleItem().Event.ShouldBeOfType<PathEvent.Connected>().First.ShouldBeTrue();
            Relayed(peer.Path!).ShouldBeTrue($"{peer.Name} is on {peer.Path}\n{scenario.Diagnostics()}");
            peer.RelayStatuses.ShouldHaveSingleItem().Status.ShouldBeOfType<RelayStatus.Ready>();
        }
        DataFlowsBothWays(scenario, "through the relay");
        return scenario;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void WithoutADirectPathBothPeersConnectThroughTheRelay(int seed) => ConnectedThroughTheRelay(seed);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ATurnServerRestartUnderARelayedSessionIsSurvivedWithANewAllocation(int seed)
    {
        IntroductionScenario scenario = ConnectedThroughTheRelay(seed);
        Simulator simulator = scenario.Simulator;
        SimulatedPeer listener = scenario.Listener, connector = scenario.Connector;
        TimeSpan restartAt = simulator.Now;
        scenario.Turn!.Restart();

        bool BackOnARelayedPath(SimulatedPeer peer) =>
            peer.PathEvents.Any(e => e.At > restartAt && e.Event is PathEvent.Connected { First: false } c && Relayed(c.Selection));
        simulator.RunUntil(() => BackOnARelayedPath(listener) && BackOnARelayedPath(connector), TimeSpan.FromSeconds(60))
            .ShouldBeTrue($"no relayed path again within 60 s of the restart\n{string.Join('\n', scenario.Log)}\n{scenario.Diagnostics()}");

        foreach (SimulatedPeer peer in new[] { listener, connector })
        {
            // The loss was found (consent, then a question to the quiet relay) and a new allocation made.
            peer.RelayStatuses.Select(s => s.Status.GetType().Name).ShouldBe(["Ready", "Lost", "Ready"], $"{peer.Name}\n{string.Join('\n', scenario.Log)}");
            peer.PathEvents.ShouldContain(e => e.Event is PathEvent.Lost);
            // Asked at once when consent failed, the restarted server answers 437 within a round trip.
            peer.RelayStatuses[1].Status.ShouldBeOfType<RelayStatus.Lost>().Reason.ShouldContain("437");
            peer.PathEvents.ShouldNotContain(e => e.Event is PathEvent.Ended || e.Event is PathEvent.Failed);
            TimeSpan back = peer.PathEvents.First(e => e.At > restartAt && e.Event is PathEvent.Connected { First: false }).At;
            (back - restartAt).ShouldBeLessThan(TimeSpan.FromSeconds(30), $"consent notices within 15 s, a new allocation takes a second and a round a few round trips\n{scenario.Diagnostics()}");
        }
        scenario.Turn.AllocationCount.ShouldBe(2, "one new allocation per peer");
        DataFlowsBothWays(scenario, "through the new allocation, with the same keys");
        listener.Round.ShouldBe(connector.Round, "both peers meet in one round");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ASessionOnTheRelayMovesToTheDirectPathOnceItOpens(int seed)
    {
        var scenario = new IntroductionScenario(seed, NatBehavior.PortRestrictedCone, NatBehavior.PortRestrictedCone, options: Ice);
        NatRouter listenerNat = scenario.Listener.Router, connectorNat = scenario.Connector.Router;
        // A firewall between the two homes (not towards the servers): only the relay gets through at first.
        listenerNat.DropInbound = packet => packet.Source.Address.Equals(connectorNat.PublicAddress);
        connectorNat.DropInbound = packet => packet.Source.Address.Equals(listenerNat.PublicAddress);
        scenario.AddRelay();
        ConnectionOutcome outcome = scenario.ListenAndConnect(TimeSpan.FromSeconds(20));
        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        Simulator simulator = scenario.Simulator;
        simulator.RunFor(TimeSpan.FromSeconds(2));
        Relayed(scenario.Listener.Path!).ShouldBeTrue(scenario.Diagnostics());
        Relayed(scenario.Connector.Path!).ShouldBeTrue(scenario.Diagnostics());

        TimeSpan openedAt = simulator.Now;
        listenerNat.DropInbound = null;
        connectorNat.DropInbound = null;
        bool Direct(SimulatedPeer peer) => !Relayed(peer.Path!);
        simulator.RunUntil(() => Direct(scenario.Listener) && Direct(scenario.Connector), TimeSpan.FromSeconds(30))
            .ShouldBeTrue($"still on the relay 30 s after the direct path opened\n{string.Join('\n', scenario.Log)}\n{scenario.Diagnostics()}");

        foreach (SimulatedPeer peer in new[] { scenario.Listener, scenario.Connector })
        {
            var upgrade = peer.PathEvents.Last().Event.ShouldBeOfType<PathEvent.Connected>();
            upgrade.First.ShouldBeFalse();
            Relayed(upgrade.Selection).ShouldBeFalse();
            peer.PathEvents.ShouldNotContain(e => e.Event is PathEvent.Lost, "an upgrade is no loss");
            peer.Round.ShouldBe(0, "no restart: the same agent found the direct pair");
            (peer.PathEvents.Last().At - openedAt).ShouldBeLessThan(Ice.UpgradeInterval + TimeSpan.FromSeconds(2));
        }
        DataFlowsBothWays(scenario, "on the direct path");
    }
}
