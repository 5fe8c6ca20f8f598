using System.Net;
using NatPunch.Discovery;
using NatPunch.Discovery.Internal;
using NatPunch.Stun;

namespace NatPunch.Tests.Client;

public class NatDiscoveryStateMachineTests
{
    private static readonly NatDiscoveryOptions Options = NatDiscoveryOptions.Default;

    public static TheoryData<NatBehavior, NatBehavior, NatType> Matrix()
    {
        var data = new TheoryData<NatBehavior, NatBehavior, NatType>();
        NatBehavior[] behaviors = [NatBehavior.EndpointIndependent, NatBehavior.AddressDependent, NatBehavior.AddressAndPortDependent];
        foreach (NatBehavior mapping in behaviors)
        {
            foreach (NatBehavior filtering in behaviors)
            {
                NatType expected = mapping != NatBehavior.EndpointIndependent
                    ? NatType.Symmetric
                    : filtering switch
                    {
                        NatBehavior.EndpointIndependent => NatType.FullCone,
                        NatBehavior.AddressDependent => NatType.RestrictedCone,
                        _ => NatType.PortRestrictedCone,
                    };
                data.Add(mapping, filtering, expected);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void MappingAndFilteringMatrix(NatBehavior mapping, NatBehavior filtering, NatType expected)
    {
        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile { Mapping = mapping, Filtering = filtering });
        NatReport report = run.Report;

        report.UdpWorks.ShouldBeTrue();
        report.TcpWorks.ShouldBe(true);
        report.NatDetected.ShouldBe(true);
        report.SupportsRfc5780.ShouldBeTrue();
        report.OtherAddress.ShouldBe(new IPEndPoint(SimulatedNat.AlternateAddress, SimulatedNat.AlternatePort));
        report.Mapping.ShouldBe(mapping);
        report.Filtering.ShouldBe(filtering);
        report.NatType.ShouldBe(expected);
        report.PublicEndPoint!.Address.ShouldBe(SimulatedNat.PublicAddress);
        report.PublicEndPoints.Count.ShouldBe(mapping switch
        {
            NatBehavior.EndpointIndependent => 1,
            NatBehavior.AddressDependent => 2,
            _ => 3,
        });
        report.Hairpinning.ShouldBe(true);
        report.RoundTripTime.ShouldBe(TimeSpan.FromMilliseconds(20));
        // Silence takes one probe timeout; everything else runs in parallel.
        run.Finished.ShouldBeLessThanOrEqualTo(Options.Retransmission.UnreliableTimeout + TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void FilteringTestsRunOnAFreshSocketAndMappingTestsOnThePrimary()
    {
        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile { Mapping = NatBehavior.AddressAndPortDependent });

        run.Probes.Where(p => p.Probe.Purpose is ProbePurpose.FilteringTest2 or ProbePurpose.FilteringTest3)
            .ShouldAllBe(p => p.Probe.SocketId == DiscoverySockets.Filtering && p.Probe.Destination.Equals(SimulatedNat.Server));
        run.Probes.Where(p => p.Probe.Purpose is ProbePurpose.BindingTest or ProbePurpose.MappingTest2 or ProbePurpose.MappingTest3)
            .ShouldAllBe(p => p.Probe.SocketId == DiscoverySockets.Primary);
        DiscoveryProbe test2 = run.Probes.Single(p => p.Probe.Purpose == ProbePurpose.MappingTest2).Probe;
        test2.Destination.ShouldBe(new IPEndPoint(SimulatedNat.AlternateAddress, SimulatedNat.Server.Port));
        DiscoveryProbe test3 = run.Probes.Single(p => p.Probe.Purpose == ProbePurpose.MappingTest3).Probe;
        test3.Destination.ShouldBe(new IPEndPoint(SimulatedNat.AlternateAddress, SimulatedNat.AlternatePort));
    }

    [Fact]
    public void EndpointIndependentMappingSkipsTestThree()
    {
        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile());

        run.Probes.ShouldNotContain(p => p.Probe.Purpose == ProbePurpose.MappingTest3);
    }

    [Fact]
    public void NoNatWithoutFilteringIsOpenInternet()
    {
        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile { NoNat = true });
        NatReport report = run.Report;

        report.NatDetected.ShouldBe(false);
        report.Mapping.ShouldBe(NatBehavior.EndpointIndependent);
        report.MappingReason!.ShouldContain("no NAT");
        report.Filtering.ShouldBe(NatBehavior.EndpointIndependent);
        report.NatType.ShouldBe(NatType.OpenInternet);
        report.PublicEndPoint.ShouldBe(report.LocalEndPoint);
        run.Probes.ShouldNotContain(p => p.Probe.Purpose == ProbePurpose.MappingTest2);
    }

    [Fact]
    public void NoNatBehindAFilteringFirewall()
    {
        NatReport report = DiscoveryHarness.Execute(new NatProfile { NoNat = true, Filtering = NatBehavior.AddressAndPortDependent }).Report;

        report.NatDetected.ShouldBe(false);
        report.Filtering.ShouldBe(NatBehavior.AddressAndPortDependent);
        report.NatType.ShouldBe(NatType.FirewalledNoNat);
    }

    [Fact]
    public void UdpBlockedButTcpWorks()
    {
        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile { UdpBlocked = true });
        NatReport report = run.Report;

        report.UdpWorks.ShouldBeFalse();
        report.UdpReason.ShouldNotBeNull();
        report.TcpWorks.ShouldBe(true);
        report.ServerReachable.ShouldBeTrue();
        report.NatType.ShouldBe(NatType.UdpBlocked);
        report.Mapping.ShouldBe(NatBehavior.Unknown);
        report.MappingReason!.ShouldContain("UDP");
        report.Filtering.ShouldBe(NatBehavior.Unknown);
        report.Hairpinning.ShouldBeNull();
        report.PublicEndPoint.ShouldBe(new IPEndPoint(SimulatedNat.PublicAddress, 60000));
        run.Finished.ShouldBe(Options.Retransmission.UnreliableTimeout);
        NatAdvice.For(report).ShouldContain("UDP is blocked; only TCP relay will work.");
    }

    [Fact]
    public void ServerDownIsUnreachable()
    {
        NatReport report = DiscoveryHarness.Execute(new NatProfile { ServerDown = true }).Report;

        report.UdpWorks.ShouldBeFalse();
        report.TcpWorks.ShouldBe(false);
        report.TcpReason!.ShouldContain("refused");
        report.ServerReachable.ShouldBeFalse();
        report.NatType.ShouldBe(NatType.Unreachable);
        report.PublicEndPoint.ShouldBeNull();
        report.NatDetected.ShouldBeNull();
    }

    [Fact]
    public void OverallTimeoutCutsTheRunShort()
    {
        var options = NatDiscoveryOptions.Default with { Timeout = TimeSpan.FromSeconds(2) };

        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile { ServerDown = true, TcpWorks = false }, options);

        run.Finished.ShouldBe(TimeSpan.FromSeconds(2));
        run.Report.UdpWorks.ShouldBeFalse();
        run.Report.UdpReason!.ShouldContain("timeout");
        run.Report.NatType.ShouldBe(NatType.Unreachable);
    }

    [Fact]
    public void TimeoutLeavesUnansweredTestsUnknown()
    {
        // The filtering tests of a port-restricted NAT wait for silence, longer than this timeout.
        var options = NatDiscoveryOptions.Default with { Timeout = TimeSpan.FromSeconds(1) };

        NatReport report = DiscoveryHarness.Execute(new NatProfile { Filtering = NatBehavior.AddressAndPortDependent }, options).Report;

        report.UdpWorks.ShouldBeTrue();
        report.Mapping.ShouldBe(NatBehavior.EndpointIndependent);
        report.Filtering.ShouldBe(NatBehavior.Unknown);
        report.FilteringReason!.ShouldContain("timeout");
        report.NatType.ShouldBe(NatType.Cone);
    }

    [Fact]
    public void ServerWithoutRfc5780StillFindsTheAddressAndTheNat()
    {
        NatReport report = DiscoveryHarness.Execute(new NatProfile { ServerSupportsRfc5780 = false }).Report;

        report.UdpWorks.ShouldBeTrue();
        report.SupportsRfc5780.ShouldBeFalse();
        report.NatDetected.ShouldBe(true);
        report.PublicEndPoint!.Address.ShouldBe(SimulatedNat.PublicAddress);
        report.Mapping.ShouldBe(NatBehavior.Unknown);
        report.MappingReason!.ShouldContain("RFC 5780");
        report.Filtering.ShouldBe(NatBehavior.Unknown);
        report.FilteringReason!.ShouldContain("RFC 5780");
        report.Hairpinning.ShouldBe(true);
        report.NatType.ShouldBe(NatType.Unknown);
        NatAdvice.For(report).ShouldContain(a => a.Contains("RFC 5780"));
    }

    [Fact]
    public void ServerWithoutRfc5780StillRecognisesNoNat()
    {
        NatReport report = DiscoveryHarness.Execute(new NatProfile { ServerSupportsRfc5780 = false, NoNat = true }).Report;

        report.NatDetected.ShouldBe(false);
        report.Mapping.ShouldBe(NatBehavior.EndpointIndependent);
        report.Filtering.ShouldBe(NatBehavior.Unknown);
        report.NatType.ShouldBe(NatType.NoNat);
    }

    [Fact]
    public void ServerThatIgnoresChangeRequestGivesUnknownFiltering()
    {
        NatReport report = DiscoveryHarness.Execute(new NatProfile { ServerIgnoresChangeRequest = true }).Report;

        report.Mapping.ShouldBe(NatBehavior.EndpointIndependent);
        report.Filtering.ShouldBe(NatBehavior.Unknown);
        report.FilteringReason!.ShouldContain("answered from");
    }

    [Fact]
    public void NoHairpinning()
    {
        NatReport report = DiscoveryHarness.Execute(new NatProfile { Hairpinning = false }).Report;

        report.Hairpinning.ShouldBe(false);
        report.HairpinningReason.ShouldNotBeNull();
        NatAdvice.For(report).ShouldContain(a => a.Contains("hairpinning", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void HairpinProbesGoBothWaysBetweenTheTwoPublicAddresses()
    {
        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile { Hairpinning = false });

        DiscoveryProbe bind = run.Probes.Single(p => p.Probe.Purpose == ProbePurpose.HairpinBind).Probe;
        bind.SocketId.ShouldBe(DiscoverySockets.Hairpin);
        bind.Destination.ShouldBe(SimulatedNat.Server);
        var hairpins = run.Probes.Where(p => p.Probe.Purpose == ProbePurpose.Hairpinning).Select(p => p.Probe).ToList();
        hairpins.Count.ShouldBe(2);
        DiscoveryProbe toPrimary = hairpins.Single(p => p.SocketId == DiscoverySockets.Hairpin);
        toPrimary.ReceiverSocketId.ShouldBe(DiscoverySockets.Primary);
        toPrimary.Destination.ShouldBe(run.Report.PublicEndPoint);
        DiscoveryProbe toSecond = hairpins.Single(p => p.SocketId == DiscoverySockets.Primary);
        toSecond.ReceiverSocketId.ShouldBe(DiscoverySockets.Hairpin);
        toSecond.Destination.Address.ShouldBe(SimulatedNat.PublicAddress);
        toSecond.Destination.ShouldNotBe(run.Report.PublicEndPoint);
        run.Report.Hairpinning.ShouldBe(false);
    }

    [Fact]
    public void OptionalChecksCanBeTurnedOff()
    {
        var options = NatDiscoveryOptions.Default with { CheckHairpinning = false, CheckTcp = false };

        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile(), options);

        run.Probes.ShouldNotContain(p => p.Probe.Purpose == ProbePurpose.Hairpinning || p.Probe.Purpose == ProbePurpose.HairpinBind || p.Probe.Purpose == ProbePurpose.TcpBinding);
        run.Report.TcpWorks.ShouldBeNull();
        run.Report.Hairpinning.ShouldBeNull();
        run.Report.NatType.ShouldBe(NatType.FullCone);
    }

    [Fact]
    public void PaddingGoesOnMappingAndFilteringTests()
    {
        var options = NatDiscoveryOptions.Default with { PaddingLength = StunRequest.FullMtuPadding };

        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile(), options);

        run.Probes.Where(p => p.Probe.Purpose is ProbePurpose.MappingTest2 or ProbePurpose.FilteringTest2 or ProbePurpose.FilteringTest3)
            .ShouldAllBe(p => p.Probe.PaddingLength == StunRequest.FullMtuPadding);
    }

    [Fact]
    public void LifetimeIsNarrowedToTheResolution()
    {
        var options = NatDiscoveryOptions.Default with { MappingLifetime = MappingLifetimeOptions.Default };

        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile { MappingLifetime = TimeSpan.FromSeconds(45) }, options);
        MappingLifetimeEstimate estimate = run.Report.MappingLifetime.ShouldNotBeNull();

        estimate.AtLeast!.Value.ShouldBeLessThanOrEqualTo(TimeSpan.FromSeconds(45));
        estimate.AtMost!.Value.ShouldBeGreaterThan(TimeSpan.FromSeconds(45));
        (estimate.AtMost.Value - estimate.AtLeast.Value).ShouldBeLessThanOrEqualTo(MappingLifetimeOptions.Default.Resolution);
        estimate.Rounds.ShouldBeGreaterThan(1);
        run.Finished.ShouldBeLessThanOrEqualTo(MappingLifetimeOptions.Default.Budget);
        run.Report.NatType.ShouldBe(NatType.FullCone);
        NatAdvice.For(run.Report).ShouldContain(a => a.Contains("keep-alives"));
    }

    [Fact]
    public void ShortLifetimeIsFoundBelowTheFirstProbe()
    {
        var options = NatDiscoveryOptions.Default with { MappingLifetime = MappingLifetimeOptions.Default };

        MappingLifetimeEstimate estimate = DiscoveryHarness.Execute(new NatProfile { MappingLifetime = TimeSpan.FromSeconds(3) }, options)
            .Report.MappingLifetime.ShouldNotBeNull();

        estimate.AtLeast.ShouldNotBeNull();
        estimate.AtLeast.Value.ShouldBeLessThanOrEqualTo(TimeSpan.FromSeconds(3));
        estimate.AtMost!.Value.ShouldBeGreaterThan(TimeSpan.FromSeconds(3));
        estimate.AtMost.Value.ShouldBeLessThanOrEqualTo(TimeSpan.FromSeconds(6));
    }

    [Fact]
    public void LongLivedMappingOutlivesTheSearchInOneRound()
    {
        var options = NatDiscoveryOptions.Default with { MappingLifetime = MappingLifetimeOptions.Default };

        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile(), options);
        MappingLifetimeEstimate estimate = run.Report.MappingLifetime.ShouldNotBeNull();

        estimate.AtLeast.ShouldBe(TimeSpan.FromSeconds(120));
        estimate.AtMost.ShouldBeNull();
        estimate.Rounds.ShouldBe(1);
        estimate.Probes.ShouldBe(4);
        estimate.Note!.ShouldContain("outlived");
        run.Finished.ShouldBeLessThan(TimeSpan.FromSeconds(121));
    }

    [Fact]
    public void LifetimeChecksComeAfterExactlyTheIdleTimeFromTheOtherSocket()
    {
        var lifetime = MappingLifetimeOptions.Default with { MaxIdle = TimeSpan.FromSeconds(8), ProbesPerRound = 2 };
        var options = NatDiscoveryOptions.Default with { MappingLifetime = lifetime };

        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile(), options);

        var binds = run.Probes.Where(p => p.Probe.Purpose == ProbePurpose.LifetimeBind).ToList();
        var checks = run.Probes.Where(p => p.Probe.Purpose == ProbePurpose.LifetimeCheck).ToList();
        binds.Select(b => b.Probe.Idle).ShouldBe([TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8)]);
        binds.Select(b => b.Probe.SocketId).Distinct().Count().ShouldBe(2);
        checks.Count.ShouldBe(2);
        foreach ((TimeSpan at, DiscoveryProbe check) in checks)
        {
            (TimeSpan boundAt, DiscoveryProbe bind) = binds.Single(b => b.Probe.SocketId == check.ReceiverSocketId);
            at.ShouldBe(boundAt + TimeSpan.FromMilliseconds(20) + bind.Idle);
            check.SocketId.ShouldBe(DiscoverySockets.LifetimeChecker);
            check.ResponsePort.ShouldNotBeNull();
        }
    }

    [Fact]
    public void LifetimeNeedsResponsePort()
    {
        var options = NatDiscoveryOptions.Default with { MappingLifetime = MappingLifetimeOptions.Default };

        MappingLifetimeEstimate estimate = DiscoveryHarness.Execute(new NatProfile { ServerSupportsResponsePort = false }, options)
            .Report.MappingLifetime.ShouldNotBeNull();

        estimate.AtLeast.ShouldBeNull();
        estimate.AtMost.ShouldBeNull();
        estimate.Note!.ShouldContain("RESPONSE-PORT");
    }

    [Fact]
    public void LifetimeSearchStopsAtItsBudget()
    {
        var lifetime = MappingLifetimeOptions.Default with { Budget = TimeSpan.FromSeconds(150), Resolution = TimeSpan.FromSeconds(1) };
        var options = NatDiscoveryOptions.Default with { MappingLifetime = lifetime };

        DiscoveryHarness.Run run = DiscoveryHarness.Execute(new NatProfile { MappingLifetime = TimeSpan.FromSeconds(100) }, options);
        MappingLifetimeEstimate estimate = run.Report.MappingLifetime.ShouldNotBeNull();

        run.Finished.ShouldBeLessThanOrEqualTo(TimeSpan.FromSeconds(150));
        estimate.Note!.ShouldContain("budget");
        estimate.AtLeast!.Value.ShouldBeLessThanOrEqualTo(TimeSpan.FromSeconds(100));
        estimate.AtMost!.Value.ShouldBeGreaterThan(TimeSpan.FromSeconds(100));
    }

    [Fact]
    public void LifetimeIsNotMeasuredWithoutUdp()
    {
        var options = NatDiscoveryOptions.Default with { MappingLifetime = MappingLifetimeOptions.Default };

        NatReport report = DiscoveryHarness.Execute(new NatProfile { UdpBlocked = true }, options).Report;

        report.MappingLifetime.ShouldNotBeNull().Note!.ShouldContain("UDP");
    }
}
