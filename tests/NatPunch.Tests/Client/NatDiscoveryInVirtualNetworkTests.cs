using System.Net;
using NatPunch.Discovery;
using NatPunch.Tests.VirtualNetwork;
using Nat = NatPunch.Tests.VirtualNetwork.NatBehavior;

namespace NatPunch.Tests.Client;

/// <summary>
/// The discovery core behind the virtual network's NAT routers, asking the project's own STUN
/// server core: the RFC 5780 tests must name each RFC 4787 preset correctly.
/// </summary>
public class NatDiscoveryInVirtualNetworkTests
{
    private static readonly NatDiscoveryOptions Options = NatDiscoveryOptions.Default with { CheckTcp = false };

    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    public static TheoryData<string, bool, Discovery.NatBehavior, Discovery.NatBehavior, NatType> Presets() => new()
    {
        { nameof(Nat.NoNat), false, Discovery.NatBehavior.EndpointIndependent, Discovery.NatBehavior.EndpointIndependent, NatType.OpenInternet },
        { nameof(Nat.FullCone), true, Discovery.NatBehavior.EndpointIndependent, Discovery.NatBehavior.EndpointIndependent, NatType.FullCone },
        { nameof(Nat.RestrictedCone), true, Discovery.NatBehavior.EndpointIndependent, Discovery.NatBehavior.AddressDependent, NatType.RestrictedCone },
        { nameof(Nat.PortRestrictedCone), true, Discovery.NatBehavior.EndpointIndependent, Discovery.NatBehavior.AddressAndPortDependent, NatType.PortRestrictedCone },
        { nameof(Nat.Symmetric), true, Discovery.NatBehavior.AddressAndPortDependent, Discovery.NatBehavior.AddressAndPortDependent, NatType.Symmetric },
    };

    [Theory]
    [MemberData(nameof(Presets))]
    public void NamesEachPreset(string preset, bool natDetected, Discovery.NatBehavior mapping, Discovery.NatBehavior filtering, NatType type)
    {
        var simulator = new Simulator(seed: 7, trace: true);
        StunServerNode stun = simulator.AddStunServer();
        NatRouter router = simulator.AddNatRouter(Nat.Preset(preset), "home");
        VirtualHost host = router.AddHost("alice");

        NatReport report = VirtualNetworkDiscoveryDriver.Run(simulator, host, stun.Primary, Options, Limit);

        report.UdpWorks.ShouldBeTrue();
        report.SupportsRfc5780.ShouldBeTrue();
        report.OtherAddress.ShouldBe(stun.Addresses[3]);
        report.NatDetected.ShouldBe(natDetected);
        report.Mapping.ShouldBe(mapping, report.MappingReason);
        report.Filtering.ShouldBe(filtering, report.FilteringReason);
        report.NatType.ShouldBe(type);
        if (natDetected)
        {
            report.PublicEndPoint!.Address.ShouldBe(router.PublicAddress);
            report.Hairpinning.ShouldBe(false);
        }
    }

    [Fact]
    public void UdpBlockedPreset()
    {
        var simulator = new Simulator(seed: 7);
        StunServerNode stun = simulator.AddStunServer();
        VirtualHost host = simulator.AddNatRouter(Nat.UdpBlocked, "firewall").AddHost("alice");

        NatReport report = VirtualNetworkDiscoveryDriver.Run(simulator, host, stun.Primary, Options, Limit);

        report.UdpWorks.ShouldBeFalse();
        report.NatType.ShouldBe(NatType.Unreachable);
        report.Elapsed.ShouldBe(Options.Retransmission.UnreliableTimeout);
    }

    [Fact]
    public void HairpinningRouter()
    {
        var simulator = new Simulator(seed: 7);
        StunServerNode stun = simulator.AddStunServer();
        VirtualHost host = simulator.AddNatRouter(Nat.PortRestrictedCone with { Hairpinning = true }, "home").AddHost("alice");

        NatReport report = VirtualNetworkDiscoveryDriver.Run(simulator, host, stun.Primary, Options, Limit);

        report.Hairpinning.ShouldBe(true, report.HairpinningReason);
    }

    [Fact]
    public void DoubleNatIsAsRestrictiveAsItsWorstLayer()
    {
        var simulator = new Simulator(seed: 7);
        StunServerNode stun = simulator.AddStunServer();
        NatRouter carrier = simulator.AddNatRouter(Nat.Symmetric, "cgn", lan: "100.64.0.0/10");
        VirtualHost host = carrier.AddNatRouter(Nat.FullCone, "home").AddHost("alice");

        NatReport report = VirtualNetworkDiscoveryDriver.Run(simulator, host, stun.Primary, Options, Limit);

        report.NatType.ShouldBe(NatType.Symmetric);
        report.PublicEndPoint!.Address.ShouldBe(carrier.PublicAddress);
    }

    [Fact]
    public void LossyLinkIsCoveredByRetransmissions()
    {
        var simulator = new Simulator(seed: 11);
        StunServerNode stun = simulator.AddStunServer();
        NatRouter router = simulator.AddNatRouter(Nat.RestrictedCone, "home");
        router.Outside.SetConditions(new LinkConditions { Latency = TimeSpan.FromMilliseconds(30), LossRate = 0.1 });
        VirtualHost host = router.AddHost("alice");

        NatReport report = VirtualNetworkDiscoveryDriver.Run(simulator, host, stun.Primary, Options, Limit);

        report.NatType.ShouldBe(NatType.RestrictedCone);
        report.RoundTripTime.ShouldNotBeNull().ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(60));
    }

    [Fact]
    public void ServerWithoutRfc5780()
    {
        var simulator = new Simulator(seed: 7);
        StunServerNode stun = simulator.AddStunServer(behaviorDiscovery: false);
        VirtualHost host = simulator.AddNatRouter(Nat.FullCone, "home").AddHost("alice");

        NatReport report = VirtualNetworkDiscoveryDriver.Run(simulator, host, stun.Primary, Options, Limit);

        report.SupportsRfc5780.ShouldBeFalse();
        report.NatDetected.ShouldBe(true);
        report.Mapping.ShouldBe(Discovery.NatBehavior.Unknown);
        report.NatType.ShouldBe(NatType.Unknown);
    }

    [Fact]
    public void MappingLifetimeOfTheRouterIsFound()
    {
        var simulator = new Simulator(seed: 7);
        StunServerNode stun = simulator.AddStunServer();
        VirtualHost host = simulator.AddNatRouter(Nat.PortRestrictedCone with { MappingLifetime = TimeSpan.FromSeconds(45) }, "home").AddHost("alice");
        var options = Options with { MappingLifetime = MappingLifetimeOptions.Default };

        NatReport report = VirtualNetworkDiscoveryDriver.Run(simulator, host, stun.Primary, options, Limit);

        MappingLifetimeEstimate lifetime = report.MappingLifetime.ShouldNotBeNull();
        lifetime.AtLeast!.Value.ShouldBeLessThanOrEqualTo(TimeSpan.FromSeconds(45), lifetime.Note);
        lifetime.AtMost!.Value.ShouldBeGreaterThan(TimeSpan.FromSeconds(45));
        (lifetime.AtMost.Value - lifetime.AtLeast.Value).ShouldBeLessThanOrEqualTo(MappingLifetimeOptions.Default.Resolution);
        report.Elapsed.ShouldBeLessThanOrEqualTo(MappingLifetimeOptions.Default.Budget);
        report.NatType.ShouldBe(NatType.PortRestrictedCone);
    }
}
