using System.Net;
using System.Text;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Traversal;
using Shouldly;
using Xunit;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// Port probing on the agent core, on a fake clock: which side probes and which opens sockets (from
/// the two mapping tests), how many probes go out, how fast and where, what an answered probe
/// makes, and what is ignored.
/// </summary>
public sealed class IceAgentPortProbingTests
{
    private static readonly IPEndPoint Host = IPEndPoint.Parse("10.0.0.2:5000");
    private static readonly IPEndPoint Primary = IPEndPoint.Parse("203.0.113.10:3478");
    private static readonly IPEndPoint Other = IPEndPoint.Parse("203.0.113.11:3479");
    private static readonly IPEndPoint OurPublic = IPEndPoint.Parse("198.51.100.7:40001");
    private static readonly IPEndPoint PeerPublic = IPEndPoint.Parse("192.0.2.50:41000");
    private static readonly IceCredentials Peer = new("peerufrag", "peerpasswordpeerpassword");
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(1);
    private static readonly PortProbingOptions Probing = PortProbingOptions.Default with { Probes = 100, ProbesPerSecond = 100, Sockets = 32 };

    /// <summary>An agent whose mapping test said <paramref name="oursVaries"/>, given a peer offer saying <paramref name="peerMapping"/>, checks from <see cref="Start"/>.</summary>
    private static AgentHarness NewHarness(bool oursVaries, string? peerMapping, bool probingOn = true, bool peerHasPublicAddress = true, int? peerPortStep = null)
    {
        var options = IceAgentOptions.Default with { PortProbing = probingOn ? Probing : null };
        var agent = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [Host], [Primary], options, TimeSpan.Zero);
        StunServerStandIn.Answer(agent, TimeSpan.Zero, to => to.Equals(Other) && oursVaries ? IPEndPoint.Parse("198.51.100.7:52919") : OurPublic, Other);
        agent.MappingVaries.ShouldBe(oursVaries);
        List<CandidateInfo> candidates = [new Candidate(CandidateType.Host, IPEndPoint.Parse("10.9.0.2:6000"), Candidate.ComputePriority(CandidateType.Host, 65535), "h0").ToInfo()];
        if (peerHasPublicAddress)
        {
            candidates.Add(new Candidate(CandidateType.ServerReflexive, PeerPublic, Candidate.ComputePriority(CandidateType.ServerReflexive, 65535), "s1",
                IPEndPoint.Parse("10.9.0.2:6000")).ToInfo());
        }
        agent.ApplyRemoteOffer(new PeerOffer(Peer.Ufrag, Peer.Pwd, candidates, peerMapping, peerPortStep), Start, Start);
        var harness = new AgentHarness { Agent = agent };
        harness.Drain(Start);
        return harness;
    }

    /// <summary>The peer's answer to <paramref name="check"/>, signed with <paramref name="password"/>.</summary>
    private static byte[] AnswerCheck(StunMessage check, IPEndPoint seenFrom, string password)
    {
        var buffer = new byte[128];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess, check.TransactionId);
        builder.AddXorAddress(StunAttributeType.XorMappedAddress, seenFrom);
        builder.AddMessageIntegrity(Encoding.UTF8.GetBytes(password));
        builder.AddFingerprint();
        return builder.Written.ToArray();
    }

    [Fact]
    public void TheSideWhoseMappingIsFixedProbesRandomPortsOfThePeersPublicAddressAtTheRate()
    {
        AgentHarness h = NewHarness(oursVaries: false, peerMapping: "varies");
        h.RunUntil(Start + Probing.StartDelay - TimeSpan.FromMilliseconds(1));
        h.ChecksTo(PeerPublic.Address, except: PeerPublic.Port).ShouldBeEmpty("no probe before the start delay");

        h.RunUntil(Start + Probing.StartDelay + TimeSpan.FromMilliseconds(495));
        List<OutgoingDatagram> probes = h.ChecksTo(PeerPublic.Address, except: PeerPublic.Port);
        probes.Count.ShouldBeInRange(49, 51); // 100 a second for half a second
        h.RunUntil(Start + TimeSpan.FromSeconds(30));
        probes = h.ChecksTo(PeerPublic.Address, except: PeerPublic.Port);
        probes.Count.ShouldBe(Probing.Probes, "never more than the budget");
        h.Agent.ProbesSent.ShouldBe(Probing.Probes);
        probes.Select(p => p.To.Port).Distinct().Count().ShouldBe(Probing.Probes, "each port once");
        probes.ShouldAllBe(p => p.To.Port >= 1024);
        foreach (OutgoingDatagram probe in probes.Take(5))
        {
            StunMessage check = AgentHarness.Parse(probe);
            // A connectivity check like any other: the peer's username first, signed with its password.
            check.TryGetString(StunAttributeType.Username, out string username).ShouldBeTrue();
            username.ShouldStartWith(Peer.Ufrag + ":");
            check.VerifyMessageIntegrity(Encoding.UTF8.GetBytes(Peer.Pwd)).ShouldBeTrue();
        }
        h.Events.OfType<IceEvent.OpenProbeSockets>().ShouldBeEmpty();
        h.Agent.Probing.ShouldBe(new PortProbingSummary(Probing.Probes, 0));
    }

    [Theory]
    [InlineData(2, new[] { 41003, 41004, 41005, 41006 })]
    [InlineData(-1, new[] { 40998, 40997, 40996, 40995 })]
    public void WithASmallPortStepThePortsThatComeNextAreProbedFirst(int step, int[] expected)
    {
        // The peer's public port toward the server's primary address is 41000, toward its other one 41000 + step.
        AgentHarness h = NewHarness(oursVaries: false, peerMapping: "varies", peerPortStep: step);
        h.Agent.PeerPortStep.ShouldBe(step);
        h.RunUntil(Start + Probing.StartDelay + TimeSpan.FromMilliseconds(35));
        h.ChecksTo(PeerPublic.Address, except: PeerPublic.Port).Select(p => p.To.Port).Take(4).ShouldBe(expected);
    }

    [Fact]
    public void ALargePortStepIsNoSequenceToPredict()
    {
        AgentHarness h = NewHarness(oursVaries: false, peerMapping: "varies", peerPortStep: 9000);
        h.RunUntil(Start + Probing.StartDelay + TimeSpan.FromMilliseconds(95));
        int[] ports = [.. h.ChecksTo(PeerPublic.Address, except: PeerPublic.Port).Select(p => p.To.Port)];
        ports.Length.ShouldBe(10);
        ports.Count(p => p > 50000 && p <= 50010).ShouldBeLessThan(3, "random, not 50001, 50002, …");
    }

    [Fact]
    public void AnAnsweredProbeIsAWorkingPairThatIsNominatedAndProbingStops()
    {
        AgentHarness h = NewHarness(oursVaries: false, peerMapping: "varies");
        h.RunUntil(Start + Probing.StartDelay + TimeSpan.FromMilliseconds(100));
        OutgoingDatagram hit = h.ChecksTo(PeerPublic.Address, except: PeerPublic.Port).Last();
        int sentBefore = h.Agent.ProbesSent;
        TimeSpan at = Start + Probing.StartDelay + TimeSpan.FromMilliseconds(110);
        h.Agent.HandleDatagram(AnswerCheck(AgentHarness.Parse(hit), OurPublic, Peer.Pwd), hit.To, at);
        h.Drain(at);

        h.Agent.ProbeHit.ShouldBe(hit.To);
        CandidatePair pair = h.Agent.Pairs.Single(p => p.Remote.EndPoint.Equals(hit.To));
        pair.State.ShouldBe(CandidatePairState.Succeeded);
        pair.Remote.Type.ShouldBe(CandidateType.PeerReflexive);
        // Controlling: the pair is checked again with USE-CANDIDATE (nominated).
        h.RunUntil(at + TimeSpan.FromSeconds(1));
        h.ChecksTo(hit.To.Address).Where(c => c.To.Equals(hit.To)).ShouldContain(c => AgentHarness.Parse(c).HasAttribute(StunAttributeType.UseCandidate));
        h.Agent.ProbesSent.ShouldBe(sentBefore, "no more probes after a hit");
    }

    [Fact]
    public void AnAnswerFromAnotherPortOrNotSignedByThePeerIsNoHit()
    {
        AgentHarness h = NewHarness(oursVaries: false, peerMapping: "varies");
        h.RunUntil(Start + Probing.StartDelay + TimeSpan.FromMilliseconds(100));
        OutgoingDatagram probe = h.ChecksTo(PeerPublic.Address, except: PeerPublic.Port).Last();
        TimeSpan at = Start + Probing.StartDelay + TimeSpan.FromMilliseconds(110);
        h.Agent.HandleDatagram(AnswerCheck(AgentHarness.Parse(probe), OurPublic, "notthepeerspasswordatall"), probe.To, at);
        h.Agent.HandleDatagram(AnswerCheck(AgentHarness.Parse(probe), OurPublic, Peer.Pwd), new IPEndPoint(probe.To.Address, probe.To.Port == 1024 ? 1025 : probe.To.Port - 1), at);
        h.Agent.ProbeHit.ShouldBeNull();
        h.Agent.Pairs.ShouldNotContain(p => p.Remote.Type == CandidateType.PeerReflexive);
        h.RunUntil(at + TimeSpan.FromMilliseconds(200));
        h.Agent.ProbesSent.ShouldBeGreaterThan(20, "probing goes on");
        // The real answer still counts.
        h.Agent.HandleDatagram(AnswerCheck(AgentHarness.Parse(probe), OurPublic, Peer.Pwd), probe.To, at + TimeSpan.FromMilliseconds(200));
        h.Agent.ProbeHit.ShouldBe(probe.To);
    }

    [Fact]
    public void TheSideWhoseMappingVariesAsksForSocketsTowardThePeerAndClosesThemWhenProbingIsOver()
    {
        AgentHarness h = NewHarness(oursVaries: true, peerMapping: "fixed");
        h.RunUntil(Start);
        IceEvent.OpenProbeSockets open = h.Events.OfType<IceEvent.OpenProbeSockets>().ShouldHaveSingleItem();
        open.Toward.ShouldBe(PeerPublic);
        open.Count.ShouldBe(Probing.Sockets);
        // The opening datagram is a Binding indication: nothing answers it, an agent that gets it ignores it.
        StunMessage.TryParse(open.Opening.Span, out StunMessage opening, out _).ShouldBeTrue();
        opening.Type.ShouldBe(StunMessageType.BindingIndication);
        h.Agent.WhyNoDirectPath.ShouldNotBeNull().ShouldContain("port probing is under way");

        h.RunUntil(Start + Probing.Window - TimeSpan.FromMilliseconds(1));
        h.Events.OfType<IceEvent.ProbeSocketsDone>().ShouldBeEmpty();
        h.RunUntil(Start + Probing.Window);
        h.Events.OfType<IceEvent.ProbeSocketsDone>().ShouldHaveSingleItem();
        h.Agent.ProbesSent.ShouldBe(0);
        h.Agent.Probing.ShouldBe(new PortProbingSummary(0, Probing.Sockets));
        h.Agent.WhyNoDirectPath.ShouldNotBeNull().ShouldContain("port probing found no port");
    }

    [Theory]
    [InlineData(false, "fixed", true, true)]
    [InlineData(true, "varies", true, true)]
    [InlineData(false, null, true, true)]
    [InlineData(false, "varies", false, true)]
    [InlineData(true, "fixed", true, false)]
    public void NoProbingUnlessExactlyOneMappingVariesThePeersAddressIsKnownAndItIsOn(bool oursVaries, string? peerMapping, bool on, bool peerHasPublicAddress)
    {
        AgentHarness h = NewHarness(oursVaries, peerMapping, on, peerHasPublicAddress);
        h.RunUntil(Start + TimeSpan.FromSeconds(20));
        h.Agent.ProbesSent.ShouldBe(0);
        h.Events.OfType<IceEvent.OpenProbeSockets>().ShouldBeEmpty();
        h.Agent.Probing.ShouldBeNull();
    }
}
