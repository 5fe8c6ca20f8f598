using System.Globalization;
using NatPunch.Tests.VirtualNetwork;

namespace NatPunch.Tests.Traversal;

/// <summary>Role conflicts (RFC 8445 §7.3.1.1, §7.2.5.1) in whole introductions in the virtual network.</summary>
public class IceAgentRoleConflictTests
{
    // Both agents stay controlling (as PeerConnector creates them) because neither applies the role of
    // the introduction: RFC 8445 §7.3.1.1 role conflict. The larger tie-breaker keeps control, the other
    // switches (on a 487 answer or on the other's check), and they still agree on one pair.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RoleConflictOfTwoControllingAgentsIsResolvedAndConnects(int seed)
    {
        var scenario = new IntroductionScenario(seed, NatBehavior.PortRestrictedCone, NatBehavior.RestrictedCone);
        scenario.Listener.ApplyAssignedRole = false;
        scenario.Connector.ApplyAssignedRole = false;

        ConnectionOutcome outcome = scenario.ListenAndConnect(TimeSpan.FromSeconds(5));

        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        (scenario.Listener.Agent.IsControlling ^ scenario.Connector.Agent.IsControlling).ShouldBeTrue(scenario.Diagnostics());
        scenario.Listener.Selected!.Value.Event.Remote.EndPoint.Address.ShouldBe(scenario.Connector.PublicAddress);
        scenario.Connector.Selected!.Value.Event.Remote.EndPoint.Address.ShouldBe(scenario.Listener.PublicAddress);
        // No time lost: the loser switches on the winner's first check, so the 487 answering its own
        // first check finds it controlled already; it checks again as controlled and the winner's
        // nomination of the pair is answered within the usual two round trips.
        outcome.ConnectionTime.ShouldBeLessThanOrEqualTo(scenario.Bound, scenario.Diagnostics());
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"seed {seed}: {outcome.ConnectionTime.TotalMilliseconds} ms, the {(scenario.Listener.Agent.IsControlling ? "listener" : "connector")} controls"));
    }
}
