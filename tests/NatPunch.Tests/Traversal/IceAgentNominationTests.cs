using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// When the controlling agent nominates (regular nomination, <see cref="IceAgentOptions.NominationDelay"/>),
/// seen through whole introductions in the virtual network.
/// </summary>
public class IceAgentNominationTests
{
    // Behind two NATs the host-to-host pair (192.168.1.2 to 192.168.1.2) outranks the working
    // server-reflexive pair and never answers. It was checked first, an Internet round trip before
    // the server-reflexive pair succeeded; waiting for it any longer only delays every connection.
    [Fact]
    public void NominationDoesNotWaitForBetterPairsThatAlreadyHadTheirTime()
    {
        var scenario = new IntroductionScenario(seed: 1, NatBehavior.PortRestrictedCone, NatBehavior.PortRestrictedCone);

        ConnectionOutcome outcome = scenario.ListenAndConnect(TimeSpan.FromSeconds(5));

        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        scenario.Connector.Agent.Pairs[0].Remote.Type.ShouldBe(CandidateType.Host);
        scenario.Connector.Agent.Pairs[0].State.ShouldBe(CandidatePairState.InProgress);
        // The introduction, a check, a nomination, and the pacing of the second pair's first check: no idle wait.
        outcome.ConnectionTime.ShouldBeLessThanOrEqualTo(
            scenario.ServerRoundTrip + 2 * scenario.PeerRoundTrip + IceAgentOptions.Default.CheckPacing, scenario.Diagnostics());
    }

    // With hairpinning both the LAN pair and the server-reflexive pairs (through the NAT and back)
    // work; the LAN pair must still win.
    [Theory]
    [InlineData("FullCone")]
    [InlineData("PortRestrictedCone")]
    public void BehindOneHairpinningNatTheLanPairStillWins(string preset)
    {
        NatBehavior nat = NatBehavior.Preset(preset) with { Hairpinning = true };
        var scenario = new IntroductionScenario(seed: 1, nat, nat, sameNat: true);

        ConnectionOutcome outcome = scenario.ListenAndConnect(TimeSpan.FromSeconds(5));

        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        scenario.Listener.Selected!.Value.Event.Remote.EndPoint.ShouldBe(scenario.Connector.Socket.SourceEndPoint, scenario.Diagnostics());
        scenario.Connector.Selected!.Value.Event.Remote.EndPoint.ShouldBe(scenario.Listener.Socket.SourceEndPoint, scenario.Diagnostics());
    }
}
