using System.Net;
using NatPunch.PortMapping;
using Shouldly;
using Xunit;

namespace NatPunch.Tests.PortMapping;

/// <summary>
/// The port mapper against a stand-in gateway on loopback, for what real gateways get wrong and the
/// lab's miniupnpd does not (tests/NatPunch.LabTests/PortMapping covers miniupnpd itself).
/// </summary>
public sealed class PortMapperTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PcpMapsFirstRenewsWithTheSameNonceAndDeletesOnDispose()
    {
        await using var gateway = new StandInGateway { GrantedLifetime = 2 };
        var renewed = new TaskCompletionSource<PortMappingLease>(TaskCreationOptions.RunContinuationsAsynchronously);
        PortMappingLease? lease;
        await using (var mapper = new PortMapper(gateway.Route))
        {
            mapper.Renewed += l => renewed.TrySetResult(l);
            lease = await mapper.MapUdpAsync(40000, Cancel);
            lease.ShouldNotBeNull();
            lease.Protocol.ShouldBe(PortMappingProtocol.Pcp);
            lease.External.ShouldBe(IPEndPoint.Parse("203.0.113.5:40000"));
            lease.Lifetime.ShouldBe(TimeSpan.FromSeconds(2));
            // Renewed half way through the 2 s lease.
            (await renewed.Task.WaitAsync(TimeSpan.FromSeconds(10), Cancel)).External.ShouldBe(lease.External);
        }
        string[] maps = [.. gateway.Requests.Where(r => r.StartsWith("pcp map", StringComparison.Ordinal))];
        maps.Length.ShouldBeGreaterThanOrEqualTo(3, string.Join('\n', gateway.Requests));
        string nonce = maps[0].Split("nonce=")[1].Split(' ')[0];
        maps.ShouldAllBe(m => m.Contains("nonce=" + nonce));
        maps[^1].ShouldStartWith("pcp map lifetime=0 ");
    }

    [Fact]
    public async Task ANatPmpOnlyGatewayIsAskedWithNatPmpAndSaysWhyPcpFailed()
    {
        await using var gateway = new StandInGateway { SpeaksPcp = false };
        await using var mapper = new PortMapper(gateway.Route);
        PortMappingLease? lease = await mapper.MapUdpAsync(40001, Cancel);
        lease.ShouldNotBeNull();
        lease.Protocol.ShouldBe(PortMappingProtocol.NatPmp);
        lease.External.ShouldBe(IPEndPoint.Parse("203.0.113.5:40001"));
        mapper.Failures.ShouldHaveSingleItem().ShouldBe("pcp: the gateway speaks NAT-PMP only");
        (await mapper.ProbeAsync(Cancel)).Select(p => (p.Protocol, p.Speaks)).ShouldBe(
            [(PortMappingProtocol.Pcp, false), (PortMappingProtocol.NatPmp, true), (PortMappingProtocol.Upnp, true)]);
    }

    [Fact]
    public async Task AnAnswerFromAnotherAddressOfTheGatewayIsTaken()
    {
        await using var gateway = new StandInGateway { AnswersFromAnotherAddress = true };
        await using var mapper = new PortMapper(gateway.Route);
        (await mapper.MapUdpAsync(40002, Cancel))!.Protocol.ShouldBe(PortMappingProtocol.Pcp);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("192.168.1.20")]
    [InlineData("100.64.3.4")]
    public async Task AnExternalAddressThatIsNotPublicMeansAnotherNatUpstream(string external)
    {
        await using var gateway = new StandInGateway { ExternalAddress = IPAddress.Parse(external), SpeaksPcp = false };
        await using var mapper = new PortMapper(gateway.Route);
        PortMappingLease lease = (await mapper.MapUdpAsync(40003, Cancel))!;
        lease.BehindAnotherNat.ShouldBeTrue();
    }

    [Fact]
    public async Task AGatewayThatKeepsOnlyPermanentLeasesGetsOneAndItIsRemovedOnDispose()
    {
        await using var gateway = new StandInGateway { SpeaksPcp = false, SpeaksNatPmp = false, PermanentLeasesOnly = true };
        await using (var mapper = new PortMapper(gateway.Route, protocols: [PortMappingProtocol.Upnp]))
        {
            PortMappingLease lease = (await mapper.MapUdpAsync(40004, Cancel))!;
            lease.Protocol.ShouldBe(PortMappingProtocol.Upnp);
            lease.Lifetime.ShouldBe(TimeSpan.Zero);
            lease.Expires.ShouldBe(DateTimeOffset.MaxValue);
        }
        gateway.Requests.ShouldContain("upnp AddPortMapping external=40004 lease=7200");
        gateway.Requests.ShouldContain("upnp AddPortMapping external=40004 lease=0");
        gateway.Requests.ShouldContain("upnp DeletePortMapping external=40004");
    }

    [Fact]
    public async Task APortHeldByAnotherHostIsMappedElsewhere()
    {
        await using var gateway = new StandInGateway { SpeaksPcp = false, SpeaksNatPmp = false, TakenPorts = { 40005 } };
        await using var mapper = new PortMapper(gateway.Route, protocols: [PortMappingProtocol.Upnp]);
        PortMappingLease lease = (await mapper.MapUdpAsync(40005, Cancel))!;
        lease.External.Port.ShouldNotBe(40005);
        lease.InternalPort.ShouldBe(40005);
        gateway.Requests.ShouldContain($"upnp AddPortMapping external={lease.External.Port} lease=7200");
    }

    [Fact]
    public async Task AGatewayThatAnswersNothingMapsNothingAndSaysWhy()
    {
        await using var gateway = new StandInGateway { SpeaksPcp = false, SpeaksNatPmp = false, SpeaksUpnp = false };
        await using var mapper = new PortMapper(gateway.Route, protocols: [PortMappingProtocol.NatPmp]);
        (await mapper.MapUdpAsync(40006, Cancel)).ShouldBeNull();
        mapper.Current.ShouldBeNull();
        mapper.Failures.ShouldHaveSingleItem().ShouldStartWith("nat-pmp: no answer");
    }
}
