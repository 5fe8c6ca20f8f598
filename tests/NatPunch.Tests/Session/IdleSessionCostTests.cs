using NatPunch.Tests.Traversal;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Session;

/// <summary>What an established, idle session costs: its datagrams and its wake-ups, on the fake clock.</summary>
public class IdleSessionCostTests
{
    [Fact]
    public void AnIdleSessionOnlyKeepsConsentAndWakesRarely()
    {
        var scenario = new IntroductionScenario(1, NatBehavior.PortRestrictedCone, NatBehavior.PortRestrictedCone);
        scenario.ListenAndConnect(TimeSpan.FromSeconds(10)).BothSelected.ShouldBeTrue(scenario.Diagnostics());
        scenario.Simulator.RunFor(TimeSpan.FromSeconds(30)); // settle: the handshake, nomination, the last retransmissions
        SimulatedPeer listener = scenario.Listener;
        long sentBefore = listener.Socket.SentCount;
        int wakeUpsBefore = listener.WakeUps;

        scenario.Simulator.RunFor(TimeSpan.FromSeconds(60));

        long sent = listener.Socket.SentCount - sentBefore;
        int wakeUps = listener.WakeUps - wakeUpsBefore;
        TestContext.Current.TestOutputHelper?.WriteLine($"idle minute: {sent} datagrams sent, {wakeUps} wake-ups");
        sent.ShouldBeLessThanOrEqualTo(30, "consent: a check every ~5 s and the answers to the peer's");
        wakeUps.ShouldBeLessThanOrEqualTo(30);
    }
}
