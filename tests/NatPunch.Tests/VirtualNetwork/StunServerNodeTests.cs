using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Server.Stun;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>The STUN node answers as the real server would, from the RFC 5780 address it is asked to.</summary>
public class StunServerNodeTests
{
    [Fact]
    public void EachOfTheFourAddressesAnswersWithItsOriginAndTheOtherAddress()
    {
        var sim = new Simulator();
        StunServerNode stun = sim.AddStunServer(IPAddress.Parse("203.0.113.1"), IPAddress.Parse("203.0.113.2"), port: 3478);
        VirtualSocket client = sim.AddHost().Bind(5000);

        stun.Addresses.Count.ShouldBe(4);
        stun.Addresses[3].ShouldBe(IPEndPoint.Parse("203.0.113.2:3479"));
        for (int index = 0; index < 4; index++)
        {
            StunProbe.Answer answer = StunProbe.Query(client, stun.Addresses[index]).ShouldNotBeNull();
            answer.Mapped.ShouldBe(client.SourceEndPoint);
            answer.From.ShouldBe(stun.Addresses[index]);
            answer.ResponseOrigin.ShouldBe(stun.Addresses[index]);
            answer.OtherAddress.ShouldBe(stun.Addresses[ServerAddressSet.Other(index)]);
        }
        stun.Requests.ShouldBe(4);
        stun.Responses.ShouldBe(4);
    }

    [Theory]
    [InlineData(ChangeRequestFlags.ChangePort, 1)]
    [InlineData(ChangeRequestFlags.ChangeIP, 2)]
    [InlineData(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort, 3)]
    public void ChangeRequestIsAnsweredFromTheChangedAddress(ChangeRequestFlags change, int expectedIndex)
    {
        var sim = new Simulator();
        StunServerNode stun = sim.AddStunServer();
        VirtualSocket client = sim.AddHost().Bind(5000);

        StunProbe.Query(client, stun.Primary, change).ShouldNotBeNull().From.ShouldBe(stun.Addresses[expectedIndex]);
    }

    [Fact]
    public void ResponsePortSendsTheAnswerToAnotherPortOfTheClient()
    {
        var sim = new Simulator();
        StunServerNode stun = sim.AddStunServer();
        VirtualHost host = sim.AddHost();
        VirtualSocket asking = host.Bind(5000);
        VirtualSocket answered = host.Bind(5001);

        asking.Send(stun.Primary, StunProbe.BindingRequest(sim.Random, responsePort: 5001));
        sim.RunFor(TimeSpan.FromSeconds(1));

        asking.Inbox.ShouldBeEmpty();
        StunProbe.Parse(answered.Inbox.ShouldHaveSingleItem())!.Value.Answer.Mapped.ShouldBe(asking.SourceEndPoint);
    }

    [Fact]
    public void WithoutBehaviorDiscoveryThereIsOneAddressAndChangeRequestIsRefused()
    {
        var sim = new Simulator();
        StunServerNode stun = sim.AddStunServer(behaviorDiscovery: false);
        VirtualSocket client = sim.AddHost().Bind(5000);

        stun.Addresses.Count.ShouldBe(1);
        StunProbe.Query(client, stun.Primary).ShouldNotBeNull().OtherAddress.ShouldBeNull();
        StunProbe.Query(client, stun.Primary, ChangeRequestFlags.ChangeIP).ShouldBeNull(); // a 420 error carries no mapped address
        stun.Responses.ShouldBe(2);
    }

    [Fact]
    public void AStoppedServerIsSilent()
    {
        var sim = new Simulator();
        StunServerNode stun = sim.AddStunServer();
        VirtualSocket client = sim.AddHost().Bind(5000);
        stun.Stop();

        StunProbe.Query(client, stun.Primary).ShouldBeNull();
        sim.Counters.DroppedFor(DropReason.PortUnreachable).ShouldBe(1);
    }
}
