using System.Net;
using System.Text;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// Clash avoidance on the agent core, on a fake clock: what it asks of the driver when the peer's
/// offer arrives, how long checks to the peer's public address wait (for the traceroute, then for the
/// peer's opening when its NAT answers unsolicited packets), what ends the wait early, and that
/// nothing else waits. The traceroute and the openings are the driver's (RouteTracerTests, the lab's
/// ClashingNatTests).
/// </summary>
public sealed class IceAgentClashAvoidanceTests
{
    private static readonly IPEndPoint Host = IPEndPoint.Parse("10.0.0.2:5000");
    private static readonly IPEndPoint Server = IPEndPoint.Parse("203.0.113.10:3478");
    private static readonly IPEndPoint OurPublic = IPEndPoint.Parse("198.51.100.7:40001");
    private static readonly IPEndPoint PeerHost = IPEndPoint.Parse("10.9.0.2:6000");
    private static readonly IPEndPoint PeerPublic = IPEndPoint.Parse("198.51.100.38:41000");
    private static readonly IPEndPoint Relayed = IPEndPoint.Parse("203.0.113.10:50000");
    private static readonly IceCredentials Peer = new("peerufrag", "peerpasswordpeerpassword");
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(1);
    private static readonly ClashAvoidanceOptions Options = ClashAvoidanceOptions.Default;
    // The STUN stand-in answers at once: a round trip of 0, so the traceroute gets the least wait.
    private static readonly TimeSpan Wait = Options.MinTraceWait;
    // Time enough for the paced checks of the test's few pairs to go out.
    private static readonly TimeSpan Slack = 4 * IceAgentOptions.Default.CheckPacing;

    private static AgentHarness NewHarness(bool on = true, bool withRelay = false, IPEndPoint? peerPublic = null)
    {
        var options = IceAgentOptions.Default with { PortProbing = null, ClashAvoidance = on ? Options : null };
        var agent = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [Host], [Server], options, TimeSpan.Zero);
        StunServerStandIn.Answer(agent, TimeSpan.Zero, _ => OurPublic, otherAddress: null);
        if (withRelay)
        {
            agent.AddRelayedCandidate(Relayed, OurPublic);
        }
        List<CandidateInfo> candidates =
        [
            new Candidate(CandidateType.Host, PeerHost, Candidate.ComputePriority(CandidateType.Host, 65535), "h0").ToInfo(),
            new Candidate(CandidateType.ServerReflexive, peerPublic ?? PeerPublic, Candidate.ComputePriority(CandidateType.ServerReflexive, 65535), "s1", PeerHost).ToInfo(),
        ];
        agent.ApplyRemoteOffer(new PeerOffer(Peer.Ufrag, Peer.Pwd, candidates, null, null), Start, Start);
        var harness = new AgentHarness { Agent = agent };
        harness.Drain(Start);
        return harness;
    }

    [Fact]
    public void ThePeersOfferAsksForATracerouteAndChecksToItsPublicAddressWaitForIt()
    {
        AgentHarness h = NewHarness();
        IceEvent.TraceRouteToPeer trace = h.Events.OfType<IceEvent.TraceRouteToPeer>().ShouldHaveSingleItem();
        trace.Peer.ShouldBe(PeerPublic.Address);
        trace.PeerEndPoints.ShouldBe([PeerPublic]);
        trace.Wait.ShouldBe(Wait);
        StunMessage.TryParse(trace.Opening.Span, out StunMessage opening, out _).ShouldBeTrue();
        opening.Type.ShouldBe(StunMessageType.BindingIndication, "nothing answers it, an agent that gets it ignores it");

        h.RunUntil(Start + Wait);
        h.ChecksTo(PeerHost.Address).ShouldNotBeEmpty("other pairs do not wait");
        h.ChecksTo(PeerPublic.Address).ShouldBeEmpty();

        h.Agent.RouteTraced(PeerPublic.Address, RouteToPeer.Unknown, Start + Wait);
        h.RunUntil(Start + Wait + Slack);
        h.ChecksTo(PeerPublic.Address).ShouldNotBeEmpty("nothing heard: nothing to wait for");
        h.Agent.HeldForPeerOpening.ShouldBeFalse();
        h.Agent.RouteToPeer.ShouldBe(RouteToPeer.Unknown);
    }

    [Fact]
    public void WhenThePeersNatAnswersChecksToItWaitForItsOpening()
    {
        AgentHarness h = NewHarness();
        TimeSpan traced = Start + TimeSpan.FromMilliseconds(2);
        h.RunUntil(traced);
        h.Agent.RouteTraced(PeerPublic.Address, new RouteToPeer(3, AnswersUnsolicited: true), traced);

        h.RunUntil(traced + Options.HoldAfterOpening - TimeSpan.FromMilliseconds(1));
        h.ChecksTo(PeerPublic.Address).ShouldBeEmpty();
        h.Agent.HeldForPeerOpening.ShouldBeTrue();
        h.RunUntil(traced + Options.HoldAfterOpening + Slack);
        h.ChecksTo(PeerPublic.Address).ShouldNotBeEmpty();
    }

    [Fact]
    public void ChecksFromOurRelayToThePeersPublicAddressWaitToo()
    {
        AgentHarness h = NewHarness(withRelay: true);
        h.Agent.RouteTraced(PeerPublic.Address, new RouteToPeer(3, AnswersUnsolicited: true), Start);
        h.RunUntil(Start + Options.HoldAfterOpening - TimeSpan.FromMilliseconds(1));
        h.SentViaRelay.ShouldNotContain(d => d.To.Equals(PeerPublic));
        h.RunUntil(Start + Options.HoldAfterOpening + 4 * Slack);
        h.SentViaRelay.ShouldContain(d => d.To.Equals(PeerPublic));
    }

    [Fact]
    public void ACheckFromThePeersPublicAddressEndsTheWait()
    {
        AgentHarness h = NewHarness();
        h.Agent.RouteTraced(PeerPublic.Address, new RouteToPeer(3, AnswersUnsolicited: true), Start);
        TimeSpan heard = Start + TimeSpan.FromMilliseconds(20);
        h.RunUntil(heard);
        h.Agent.HandleDatagram(PeerCheck(h.Agent), PeerPublic, heard);
        h.Drain(heard);

        // Answered, and our own (triggered) check goes out at once: the peer's NAT has let our way in.
        h.Sent.Any(d => d.To.Equals(PeerPublic) && AgentHarness.Parse(d).Type == StunMessageType.BindingSuccess).ShouldBeTrue();
        h.ChecksTo(PeerPublic.Address).ShouldNotBeEmpty();
    }

    [Fact]
    public void WithoutAResultChecksGoAheadAfterTheWaitAndItsGrace()
    {
        AgentHarness h = NewHarness();
        h.RunUntil(Start + Wait + Options.ResultGrace - TimeSpan.FromMilliseconds(1));
        h.ChecksTo(PeerPublic.Address).ShouldBeEmpty();
        h.RunUntil(Start + Wait + Options.ResultGrace + Slack);
        h.ChecksTo(PeerPublic.Address).ShouldNotBeEmpty();
        h.Agent.RouteToPeer.ShouldBeNull();
    }

    [Theory]
    [InlineData(1, true)]   // the peer's NAT is the next router: an opening could not die in between
    [InlineData(3, false)]  // its NAT drops what it did not ask for: no clash
    public void NoWaitForAnOpeningThatCannotHelp(int routersBefore, bool answers)
    {
        AgentHarness h = NewHarness();
        h.Agent.RouteTraced(PeerPublic.Address, new RouteToPeer(routersBefore, answers), Start);
        h.RunUntil(Start + Slack);
        h.ChecksTo(PeerPublic.Address).ShouldNotBeEmpty();
        h.Agent.HeldForPeerOpening.ShouldBeFalse();
    }

    [Fact]
    public void OffNothingIsTracedAndNothingWaits()
    {
        AgentHarness h = NewHarness(on: false);
        h.Events.OfType<IceEvent.TraceRouteToPeer>().ShouldBeEmpty();
        h.RunUntil(Start + Slack);
        h.ChecksTo(PeerPublic.Address).ShouldNotBeEmpty();
    }

    [Fact]
    public void APeerBehindOurOwnNatIsNotTraced()
    {
        var sameNat = new IPEndPoint(OurPublic.Address, 41999);
        AgentHarness h = NewHarness(peerPublic: sameNat);
        h.Events.OfType<IceEvent.TraceRouteToPeer>().ShouldBeEmpty("no router between us");
        h.RunUntil(Start + Slack);
        h.ChecksTo(sameNat.Address).ShouldNotBeEmpty();
    }

    /// <summary>A connectivity check from the peer (controlled), signed with our password.</summary>
    private static byte[] PeerCheck(IceAgent agent)
    {
        var buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, TransactionId.NewRandom());
        builder.AddString(StunAttributeType.Username, $"{agent.Local.Ufrag}:{Peer.Ufrag}");
        builder.AddUInt32(StunAttributeType.Priority, Candidate.ComputePriority(CandidateType.PeerReflexive, 65535));
        builder.AddUInt64(StunAttributeType.IceControlled, 1);
        builder.AddMessageIntegrity(Encoding.UTF8.GetBytes(agent.Local.Pwd));
        builder.AddFingerprint();
        return builder.Written.ToArray();
    }
}
