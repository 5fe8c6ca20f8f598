using System.Globalization;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Tests.VirtualNetwork;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// Introductions that don't go as planned: one side starts late (its NAT drops the other's first
/// checks), both sides call each other at once. (Both agents controlling: <see cref="IceAgentRoleConflictTests"/>.)
/// </summary>
public class IntroductionRobustnessTests
{
    private static readonly TimeSpan Late = TimeSpan.FromMilliseconds(200);

    // Port-restricted NATs on both sides: until the late side has sent its own first check, its NAT
    // has no permission for the early side's mapping and drops the early side's checks (retransmitted
    // after 100, 200, 400 ms). The late side's first check opens its NAT and gets through (the early
    // side's NAT was opened by the early checks); the early side answers it with a triggered check,
    // which now gets through too. So it connects 200 ms late, plus half a peer round trip when the
    // early side is the controlling one (its useful check starts when the late side's first arrives),
    // and not a retransmission interval later.
    [Theory]
    [InlineData(IntroductionScenario.ListenerName)]
    [InlineData(IntroductionScenario.ConnectorName)]
    public void FirstChecksDroppedByTheLateSidesNatStillConnect(string lateSide)
    {
        var scenario = new IntroductionScenario(seed: 3, NatBehavior.PortRestrictedCone, NatBehavior.PortRestrictedCone);
        SimulatedPeer late = lateSide == IntroductionScenario.ListenerName ? scenario.Listener : scenario.Connector;
        SimulatedPeer early = late == scenario.Listener ? scenario.Connector : scenario.Listener;
        late.ExtraStartDelay = Late;

        ConnectionOutcome outcome = scenario.ListenAndConnect(TimeSpan.FromSeconds(5));

        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        (late.ChecksStartAt! - early.ChecksStartAt!).Value.ShouldBe(Late);
        // The early side's first checks really died at the late side's NAT.
        late.Router.Counters.DroppedFor(DropReason.Filtered).ShouldBeGreaterThan(0, scenario.Diagnostics());
        outcome.ConnectionTime.ShouldBeLessThanOrEqualTo(scenario.Bound + Late + scenario.PeerRoundTrip / 2, scenario.Diagnostics());
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{lateSide} 200 ms late: {outcome.ConnectionTime.TotalMilliseconds} ms (bound {scenario.Bound.TotalMilliseconds} ms + 200 ms + half a peer RTT), " +
            $"{late.Router.Counters.DroppedFor(DropReason.Filtered)} checks filtered"));
    }

    // Both peers call each other at the same moment: two connects. The directory introduces them once
    // (the one whose connect arrived first controls) and ignores nothing the peers depend on.
    [Theory]
    [InlineData("PortRestrictedCone", "PortRestrictedCone")]
    [InlineData("FullCone", "PortRestrictedCone")]
    [InlineData("NoNat", "RestrictedCone")]
    public void BothSidesCallingEachOtherAtOnceConnect(string listenerNat, string connectorNat)
    {
        var scenario = new IntroductionScenario(seed: 4, NatBehavior.Preset(listenerNat), NatBehavior.Preset(connectorNat));

        ConnectionOutcome outcome = scenario.ConnectEachOther(TimeSpan.FromSeconds(5));

        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        IntroduceMessage toListener = scenario.Listener.Introduction.ShouldNotBeNull();
        IntroduceMessage toConnector = scenario.Connector.Introduction.ShouldNotBeNull();
        toListener.Session.ShouldBe(toConnector.Session);
        // The listener is nearer the server (20 ms WAN against 30 ms): its connect arrived first.
        toListener.Role.ShouldBe(IceRole.Controlling);
        toConnector.Role.ShouldBe(IceRole.Controlled);
        scenario.Listener.Errors.ShouldBeEmpty();
        scenario.Connector.Errors.ShouldBeEmpty();
        scenario.Log.Count(line => line.Contains("introduce", StringComparison.Ordinal)).ShouldBe(2, scenario.Diagnostics());
        outcome.ConnectionTime.ShouldBeLessThanOrEqualTo(scenario.Bound, scenario.Diagnostics());
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{listenerNat} and {connectorNat} call each other: {outcome.ConnectionTime.TotalMilliseconds} ms (bound {scenario.Bound.TotalMilliseconds} ms)"));
    }
}
