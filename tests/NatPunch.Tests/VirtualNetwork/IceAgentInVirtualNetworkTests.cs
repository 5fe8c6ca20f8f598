using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A real protocol core in the simulation: two <see cref="IceAgent"/>s behind NATs gather from the
/// STUN node, swap offers (standing in for the rendezvous), and check. A smoke test that the
/// simulator drives cores as a driver would; the full NAT-pair matrix belongs with the ICE tests.
/// </summary>
public class IceAgentInVirtualNetworkTests
{
    private static void SendOffer(SimulatedAgent from, SimulatedAgent to, TimeSpan now)
    {
        PeerOffer offer = from.Agent.CreateOffer();
        to.Agent.SetRemoteCredentials(new IceCredentials(offer.Ufrag, offer.Pwd));
        to.Agent.AddRemoteCandidates(offer.Candidates.Select(c => { Candidate.TryFromInfo(c, out Candidate parsed).ShouldBeTrue(); return parsed; }), now);
    }

    private static (Simulator Sim, SimulatedAgent Alice, SimulatedAgent Bob) Connect(NatBehavior aliceNat, NatBehavior bobNat, TimeSpan limit)
    {
        var sim = new Simulator(seed: 5, trace: true);
        StunServerNode stun = sim.AddStunServer();
        SimulatedAgent alice = SimulatedAgent.Add(sim, aliceNat, "alice", stun, IceRole.Controlling);
        SimulatedAgent bob = SimulatedAgent.Add(sim, bobNat, "bob", stun, IceRole.Controlled);
        sim.RunUntil(() => alice.Agent.GatheringComplete && bob.Agent.GatheringComplete, TimeSpan.FromSeconds(5)).ShouldBeTrue();

        SendOffer(alice, bob, sim.Now);
        SendOffer(bob, alice, sim.Now);
        foreach (SimulatedAgent peer in new[] { alice, bob })
        {
            peer.Agent.StartChecks(sim.Now);
            peer.Socket.Poll(); // changed from outside the simulation: let the binding re-read its wake-up
        }
        sim.RunUntil(() => alice.Agent.SelectedPair is not null && bob.Agent.SelectedPair is not null, limit);
        return (sim, alice, bob);
    }

    // Both LANs are 192.168.1.0/24 and both hosts are 192.168.1.2:5000, so each agent's check to the
    // other's host candidate loops back to itself, as it would on real networks.
    [Fact]
    public void AgentsBehindConeNatsSelectTheirServerReflexiveAddresses()
    {
        var (sim, alice, bob) = Connect(NatBehavior.PortRestrictedCone, NatBehavior.RestrictedCone, TimeSpan.FromSeconds(5));

        alice.Agent.SelectedPair.ShouldNotBeNull(sim.Trace!.Tail());
        bob.Agent.SelectedPair.ShouldNotBeNull(sim.Trace.Tail());
        alice.Agent.SelectedPair!.Remote.EndPoint.Address.ShouldBe(bob.Nat.PublicAddress);
        bob.Agent.SelectedPair!.Remote.EndPoint.Address.ShouldBe(alice.Nat.PublicAddress);
    }

    [Fact]
    public void AgentsBehindSymmetricNatsReportFailureInsteadOfSpinning()
    {
        var (sim, alice, bob) = Connect(NatBehavior.Symmetric, NatBehavior.Symmetric, TimeSpan.FromSeconds(15));

        alice.Agent.SelectedPair.ShouldBeNull();
        var events = new List<IceEvent>();
        while (alice.Agent.TryPollEvent(out IceEvent e))
        {
            events.Add(e);
        }
        events.OfType<IceEvent.Failed>().ShouldHaveSingleItem(sim.Trace!.Tail());
    }
}
