using System.Net;
using NatPunch.Discovery;

namespace NatPunch.Tests.Client;

public class NatReportTests
{
    private static readonly NatReport Base = new()
    {
        Server = IPEndPoint.Parse("192.0.2.1:3478"),
        UdpWorks = true,
        NatDetected = true,
        Mapping = NatBehavior.EndpointIndependent,
        Filtering = NatBehavior.EndpointIndependent,
        SupportsRfc5780 = true,
    };

    [Theory]
    [InlineData(NatBehavior.EndpointIndependent, NatBehavior.EndpointIndependent, NatType.FullCone, "full cone", "full_cone")]
    [InlineData(NatBehavior.EndpointIndependent, NatBehavior.AddressDependent, NatType.RestrictedCone, "restricted cone", "restricted_cone")]
    [InlineData(NatBehavior.EndpointIndependent, NatBehavior.AddressAndPortDependent, NatType.PortRestrictedCone, "port-restricted cone", "port_restricted_cone")]
    [InlineData(NatBehavior.EndpointIndependent, NatBehavior.Unknown, NatType.Cone, "cone (filtering unknown)", "cone")]
    [InlineData(NatBehavior.AddressDependent, NatBehavior.AddressAndPortDependent, NatType.Symmetric, "symmetric", "symmetric")]
    [InlineData(NatBehavior.AddressAndPortDependent, NatBehavior.EndpointIndependent, NatType.Symmetric, "symmetric", "symmetric")]
    [InlineData(NatBehavior.Unknown, NatBehavior.Unknown, NatType.Unknown, "unknown", "unknown")]
    public void NamesTheNat(NatBehavior mapping, NatBehavior filtering, NatType type, string display, string token)
    {
        NatReport report = Base with { Mapping = mapping, Filtering = filtering };

        report.NatType.ShouldBe(type);
        type.DisplayName().ShouldBe(display);
        type.Token().ShouldBe(token);
    }

    [Fact]
    public void NoNatNames()
    {
        (Base with { NatDetected = false }).NatType.DisplayName().ShouldBe("no NAT (open internet)");
        (Base with { NatDetected = false, Filtering = NatBehavior.AddressDependent }).NatType.ShouldBe(NatType.FirewalledNoNat);
        (Base with { NatDetected = false, Filtering = NatBehavior.Unknown }).NatType.ShouldBe(NatType.NoNat);
    }

    [Fact]
    public void UdpBlockedAndUnreachable()
    {
        NatReport blocked = Base with { UdpWorks = false, TcpWorks = true };
        blocked.NatType.ShouldBe(NatType.UdpBlocked);
        blocked.NatType.DisplayName().ShouldBe("UDP blocked");
        NatAdvice.For(blocked).ShouldBe(["UDP is blocked; only TCP relay will work."]);

        NatReport down = Base with { UdpWorks = false, TcpWorks = false };
        down.NatType.ShouldBe(NatType.Unreachable);
        down.ServerReachable.ShouldBeFalse();
    }

    [Fact]
    public void SymmetricAdviceSaysARelayWillBeNeeded()
    {
        NatAdvice.For(Base with { Mapping = NatBehavior.AddressAndPortDependent })
            .ShouldContain("Symmetric NAT: direct connections to peers behind similar NATs will usually fail; a relay will be needed.");
    }

    [Fact]
    public void BehaviorTokens()
    {
        NatBehavior.EndpointIndependent.Token().ShouldBe("endpoint_independent");
        NatBehavior.AddressDependent.Token().ShouldBe("address_dependent");
        NatBehavior.AddressAndPortDependent.Token().ShouldBe("address_and_port_dependent");
        NatBehavior.Unknown.Token().ShouldBe("unknown");
        NatBehavior.AddressAndPortDependent.DisplayName().ShouldBe("address-and-port-dependent");
    }

    [Fact]
    public void KeepAliveFollowsTheMeasuredLifetime()
    {
        var estimate = new MappingLifetimeEstimate { AtLeast = TimeSpan.FromSeconds(30), AtMost = TimeSpan.FromSeconds(35) };

        estimate.SuggestedKeepAlive.ShouldBe(TimeSpan.FromSeconds(24));
        new MappingLifetimeEstimate().SuggestedKeepAlive.ShouldBeNull();
    }
}
