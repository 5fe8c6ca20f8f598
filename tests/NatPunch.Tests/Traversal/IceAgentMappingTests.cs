using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;
using Shouldly;
using Xunit;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// The agent's mapping test: a Binding to the STUN server's primary address, then (once) to its
/// OTHER-ADDRESS from the same socket; another public address the second time means a NAT that maps
/// per destination (symmetric). The result goes into the offer and, with the peer's, explains a relay.
/// </summary>
public sealed class IceAgentMappingTests
{
    private static readonly IPEndPoint Host = IPEndPoint.Parse("10.0.0.2:5000");
    private static readonly IPEndPoint Primary = IPEndPoint.Parse("203.0.113.10:3478");
    private static readonly IPEndPoint Other = IPEndPoint.Parse("203.0.113.11:3479");
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(1);

    private static IceAgent NewAgent() =>
        new(IceRole.Controlling, IceCredentials.NewRandom(), [Host], [Primary], IceAgentOptions.Default, Start);

    private static List<IPEndPoint> Answer(IceAgent agent, Func<IPEndPoint, IPEndPoint?> mapped, bool otherAddress = true) =>
        StunServerStandIn.Answer(agent, Start, mapped, otherAddress ? Other : null);

    [Fact]
    public void TheSamePublicAddressTowardBothServerAddressesIsAFixedMapping()
    {
        IceAgent agent = NewAgent();
        Answer(agent, _ => IPEndPoint.Parse("198.51.100.7:5000")).ShouldBe([Primary, Other]);
        agent.GatheringComplete.ShouldBeTrue();
        agent.MappingVaries.ShouldBe(false);
        agent.CreateOffer().Mapping.ShouldBe("fixed");
        agent.LocalCandidates.Count(c => c.Type == CandidateType.ServerReflexive).ShouldBe(1);
    }

    [Fact]
    public void AnotherPublicPortTowardTheOtherAddressIsAMappingThatVaries()
    {
        IceAgent agent = NewAgent();
        Answer(agent, to => IPEndPoint.Parse(to.Equals(Primary) ? "198.51.100.7:40001" : "198.51.100.7:52919"));
        agent.MappingVaries.ShouldBe(true);
        agent.CreateOffer().Mapping.ShouldBe("varies");
        // Only the primary answer is a candidate: the other mapping is for another destination.
        agent.LocalCandidates.Where(c => c.Type == CandidateType.ServerReflexive).Select(c => c.EndPoint)
            .ShouldBe([IPEndPoint.Parse("198.51.100.7:40001")]);
    }

    [Fact]
    public void WithoutAnOtherAddressOrAnAnswerFromItTheMappingIsUnknown()
    {
        IceAgent withoutOther = NewAgent();
        Answer(withoutOther, _ => IPEndPoint.Parse("198.51.100.7:5000"), otherAddress: false);
        withoutOther.GatheringComplete.ShouldBeTrue();
        withoutOther.MappingVaries.ShouldBeNull();
        withoutOther.CreateOffer().Mapping.ShouldBeNull();

        IceAgent silentOther = NewAgent();
        Answer(silentOther, to => to.Equals(Primary) ? IPEndPoint.Parse("198.51.100.7:5000") : null).ShouldBe([Primary, Other]);
        silentOther.GatheringComplete.ShouldBeFalse(); // the test waits for its timeout
        silentOther.HandleTimeout(Start + IceAgentOptions.Default.GatherTimeout + TimeSpan.FromSeconds(1));
        silentOther.GatheringComplete.ShouldBeTrue();
        silentOther.MappingVaries.ShouldBeNull();
    }

    [Theory]
    [InlineData(true, "varies", "both NATs")]
    [InlineData(true, "fixed", "our NAT")]
    [InlineData(false, "varies", "the peer's NAT")]
    [InlineData(false, "fixed", null)]
    [InlineData(true, null, "our NAT")]
    public void WhyNoDirectPathNamesTheSymmetricSide(bool ours, string? theirs, string? expected)
    {
        IceAgent agent = NewAgent();
        Answer(agent, to => IPEndPoint.Parse(ours && to.Equals(Other) ? "198.51.100.7:40002" : "198.51.100.7:40001"));
        agent.ApplyRemoteOffer(new PeerOffer("ufrag", "passwordpasswordpassword", [], theirs), Start, Start);
        if (expected is null)
        {
            agent.WhyNoDirectPath.ShouldBeNull();
        }
        else
        {
            agent.WhyNoDirectPath.ShouldNotBeNull().ShouldStartWith(expected);
        }
    }
}
