using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>Port assignment, mapping lifetime, hairpinning, nesting and LAN topology of <see cref="NatRouter"/>.</summary>
public class NatRouterTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    /// <summary>Sends one byte and runs the simulation for a second.</summary>
    private static void SendAndSettle(VirtualSocket from, IPEndPoint to, byte value = 0)
    {
        from.Send(to, [value]);
        from.Simulator.RunFor(Second);
    }

    /// <summary>The address the far end saw <paramref name="from"/> as (the mapping), read from a public echo socket's inbox.</summary>
    private static IPEndPoint MappedAs(VirtualSocket from, VirtualSocket observer)
    {
        observer.ClearInbox();
        SendAndSettle(from, observer.SourceEndPoint);
        return observer.Inbox.ShouldHaveSingleItem().From;
    }

    [Fact]
    public void PortPreservationKeepsTheInternalPortUnlessAnotherHostHasIt()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.FullCone);
        VirtualSocket observer = sim.AddHost().Bind(3478);
        VirtualSocket a = nat.AddHost("a").Bind(5000);
        VirtualSocket b = nat.AddHost("b").Bind(5000);

        MappedAs(a, observer).ShouldBe(new IPEndPoint(nat.PublicAddress, 5000));
        // RFC 4787 §4.2.1: the port is taken, so b gets another (and no port overloading).
        IPEndPoint mappedB = MappedAs(b, observer);
        mappedB.Address.ShouldBe(nat.PublicAddress);
        mappedB.Port.ShouldBe(5001);
    }

    [Fact]
    public void SequentialAssignmentHandsOutConsecutivePorts()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.Symmetric with { PortAssignment = PortAssignment.Sequential, FirstPort = 20000 });
        VirtualHost server = sim.AddHost();
        VirtualSocket[] observers = [server.Bind(1), server.Bind(2), server.Bind(3)];
        VirtualSocket socket = nat.AddHost().Bind(5000);

        observers.Select(o => MappedAs(socket, o).Port).ShouldBe([20000, 20001, 20002]);
    }

    [Fact]
    public void RandomAssignmentSpreadsPortsOverTheRange()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.Symmetric);
        VirtualHost server = sim.AddHost();
        VirtualSocket socket = nat.AddHost().Bind(5000);

        int[] ports = Enumerable.Range(1, 40).Select(p => MappedAs(socket, server.Bind(p)).Port).ToArray();

        ports.Distinct().Count().ShouldBe(40);
        ports.ShouldAllBe(p => p >= 1024 && p <= 65535);
        ports.ShouldContain(p => p < 30000);
        ports.ShouldContain(p => p > 40000);
    }

    [Fact]
    public void AnIdleMappingExpiresAfterItsLifetime()
    {
        var sim = new Simulator(trace: true);
        NatRouter nat = sim.AddNatRouter(NatBehavior.FullCone with { MappingLifetime = TimeSpan.FromSeconds(30) });
        VirtualSocket observer = sim.AddHost().Bind(3478);
        VirtualSocket stranger = sim.AddHost().Bind(9999);
        VirtualSocket socket = nat.AddHost().Bind(5000);
        IPEndPoint mapped = MappedAs(socket, observer); // t = 0 … 1 s; the mapping was last refreshed at t = 0

        sim.Schedule(TimeSpan.FromSeconds(28), () => stranger.Send(mapped, [1])); // t = 29 s: alive
        sim.Schedule(TimeSpan.FromSeconds(30), () => stranger.Send(mapped, [2])); // t = 31 s: idle for 31 s > 30 s
        sim.RunFor(TimeSpan.FromSeconds(35));

        socket.Inbox.ShouldHaveSingleItem().Payload.ShouldBe([1]);
        nat.Counters.MappingsExpired.ShouldBe(1);
        nat.Counters.DroppedFor(DropReason.NoMapping).ShouldBe(1);
        nat.Mappings.ShouldBeEmpty();
        sim.Trace!.Entries.ShouldContain(e => e.Kind == TraceKind.MappingExpired && e.Time == TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void OutboundKeepAlivesHoldTheMappingAndItsPort()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.Symmetric with { MappingLifetime = TimeSpan.FromSeconds(30) });
        VirtualSocket observer = sim.AddHost().Bind(3478);
        VirtualSocket socket = nat.AddHost().Bind(5000);
        IPEndPoint first = MappedAs(socket, observer);

        for (int i = 0; i < 10; i++)
        {
            sim.RunFor(TimeSpan.FromSeconds(20));
            MappedAs(socket, observer).ShouldBe(first); // RFC 4787 REQ-6: outbound refreshes
        }
        nat.Counters.MappingsExpired.ShouldBe(0);

        sim.RunFor(TimeSpan.FromSeconds(31));
        MappedAs(socket, observer).ShouldNotBe(first); // expired; a random new port
        nat.Counters.MappingsExpired.ShouldBe(1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InboundTrafficRefreshesTheMappingOnlyWhenConfigured(bool inboundRefreshes)
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.PortRestrictedCone with
        {
            MappingLifetime = TimeSpan.FromSeconds(30),
            InboundRefreshesMapping = inboundRefreshes,
        });
        VirtualSocket peer = sim.AddHost().Bind(3478);
        VirtualSocket socket = nat.AddHost().Bind(5000);
        IPEndPoint mapped = MappedAs(socket, peer);

        // The peer keeps sending every 10 s for a minute; the host never answers.
        for (int i = 1; i <= 6; i++)
        {
            sim.Schedule(TimeSpan.FromSeconds(10 * i), () => peer.Send(mapped, [1]));
        }
        sim.RunFor(TimeSpan.FromSeconds(65));

        socket.Inbox.Count.ShouldBe(inboundRefreshes ? 6 : 2); // without refresh: those at 10 s and 20 s (created at 0 s)
        nat.Counters.MappingsExpired.ShouldBe(inboundRefreshes ? 0 : 1);
    }

    [Fact]
    public void HairpinningLetsTwoLanHostsMeetThroughTheirPublicMappings()
    {
        var sim = new Simulator(trace: true);
        NatRouter nat = sim.AddNatRouter(NatBehavior.FullCone with { Hairpinning = true });
        VirtualSocket observer = sim.AddHost().Bind(3478);
        VirtualSocket a = nat.AddHost("a").Bind(5000);
        VirtualSocket b = nat.AddHost("b").Bind(6000);
        IPEndPoint mappedA = MappedAs(a, observer);
        IPEndPoint mappedB = MappedAs(b, observer);

        SendAndSettle(a, mappedB);

        // RFC 4787 REQ-9: the hairpinned packet shows the sender's external address, not its LAN address.
        b.Inbox.ShouldHaveSingleItem(sim.Trace!.Tail()).From.ShouldBe(mappedA);
        nat.Counters.Hairpinned.ShouldBe(1);
    }

    [Fact]
    public void HairpinnedPacketsStillPassTheFilter()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.PortRestrictedCone with { Hairpinning = true });
        VirtualSocket observer = sim.AddHost().Bind(3478);
        VirtualSocket a = nat.AddHost("a").Bind(5000);
        VirtualSocket b = nat.AddHost("b").Bind(6000);
        IPEndPoint mappedA = MappedAs(a, observer);
        IPEndPoint mappedB = MappedAs(b, observer);

        SendAndSettle(a, mappedB);
        b.Inbox.ShouldBeEmpty(); // b never sent to mappedA: filtered
        SendAndSettle(b, mappedA); // b punches; a has already sent to mappedB, so this gets in
        a.Inbox.ShouldHaveSingleItem().From.ShouldBe(mappedB);
        SendAndSettle(a, mappedB);
        b.Inbox.ShouldHaveSingleItem().From.ShouldBe(mappedA);
    }

    [Fact]
    public void WithoutHairpinningAPacketToTheNatsOwnPublicAddressIsDropped()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.FullCone);
        VirtualSocket observer = sim.AddHost().Bind(3478);
        VirtualSocket a = nat.AddHost("a").Bind(5000);
        VirtualSocket b = nat.AddHost("b").Bind(6000);
        IPEndPoint mappedB = MappedAs(b, observer);

        SendAndSettle(a, mappedB);

        b.Inbox.ShouldBeEmpty();
        nat.Counters.DroppedFor(DropReason.HairpinDisabled).ShouldBe(1);
    }

    [Fact]
    public void TwoHostsBehindOneNatReachEachOtherOnTheirLanAddresses()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.Symmetric);
        VirtualSocket a = nat.AddHost("a", link: LinkConditions.WithLatency(1)).Bind(5000);
        VirtualSocket b = nat.AddHost("b", link: LinkConditions.WithLatency(1)).Bind(5000);
        a.SourceEndPoint.ShouldBe(IPEndPoint.Parse("192.168.1.2:5000"));
        b.SourceEndPoint.ShouldBe(IPEndPoint.Parse("192.168.1.3:5000"));

        SendAndSettle(a, b.SourceEndPoint);

        ReceivedDatagram received = b.Inbox.ShouldHaveSingleItem();
        received.From.ShouldBe(a.SourceEndPoint);
        received.Time.ShouldBe(TimeSpan.FromMilliseconds(2)); // a's egress + b's ingress
        nat.Counters.TranslatedOutbound.ShouldBe(0);
        nat.Mappings.ShouldBeEmpty();
    }

    [Fact]
    public void PrivateAddressesRepeatOnDifferentLansWithoutMixingThemUp()
    {
        var sim = new Simulator();
        NatRouter natA = sim.AddNatRouter(NatBehavior.FullCone, "natA");
        NatRouter natB = sim.AddNatRouter(NatBehavior.FullCone, "natB");
        VirtualSocket a = natA.AddHost().Bind(5000);
        VirtualSocket a2 = natA.AddHost().Bind(5000);
        VirtualSocket b = natB.AddHost().Bind(5000);
        a.SourceEndPoint.ShouldBe(b.SourceEndPoint); // both 192.168.1.2:5000

        SendAndSettle(a, a2.SourceEndPoint);
        b.Inbox.ShouldBeEmpty();
        a2.Inbox.ShouldHaveSingleItem();

        // Sending to b's private address from natA's LAN reaches natA's LAN only.
        SendAndSettle(a2, b.SourceEndPoint);
        a.Inbox.ShouldHaveSingleItem();
        b.Inbox.ShouldBeEmpty();
    }

    [Fact]
    public void PrivateAddressesAreNotRoutedOnTheInternet()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.FullCone);
        VirtualSocket inside = nat.AddHost().Bind(5000);
        VirtualSocket outside = sim.AddHost().Bind(5000);

        SendAndSettle(outside, inside.SourceEndPoint);

        inside.Inbox.ShouldBeEmpty();
        sim.Counters.DroppedFor(DropReason.NoRoute).ShouldBe(1);
    }

    [Fact]
    public void NestedNatsTranslateTwiceAndTheOuterAddressIsWhatTheServerSees()
    {
        var sim = new Simulator(trace: true);
        StunServerNode stun = sim.AddStunServer();
        NatRouter cgn = sim.AddNatRouter(NatBehavior.PortRestrictedCone, "cgn", lan: "100.64.0.0/10");
        NatRouter home = cgn.AddNatRouter(NatBehavior.FullCone, "home");
        VirtualSocket socket = home.AddHost("alice").Bind(5000);

        home.PublicAddress.ShouldBe(IPAddress.Parse("100.64.0.2"));
        StunProbe.Answer answer = StunProbe.Query(socket, stun.Primary).ShouldNotBeNull(sim.Trace!.Tail());

        answer.Mapped.Address.ShouldBe(cgn.PublicAddress);
        home.Mappings.ShouldHaveSingleItem().External.ShouldBe(new IPEndPoint(home.PublicAddress, 5000));
        cgn.Mappings.ShouldHaveSingleItem().Internal.ShouldBe(new IPEndPoint(home.PublicAddress, 5000));
        // The outer NAT's filtering governs: the home NAT is full cone, the CGN is not.
        StunProbe.Query(socket, stun.Primary, NatPunch.Protocol.Stun.ChangeRequestFlags.ChangePort).ShouldBeNull();
    }

    [Fact]
    public void TwoHomesBehindOneCarrierGradeNatMeetByHairpinningAtTheCgn()
    {
        var sim = new Simulator(trace: true);
        NatRouter cgn = sim.AddNatRouter(NatBehavior.FullCone with { Hairpinning = true }, "cgn", lan: "100.64.0.0/10");
        VirtualSocket a = cgn.AddNatRouter(NatBehavior.FullCone, "homeA").AddHost("a").Bind(5000);
        VirtualSocket b = cgn.AddNatRouter(NatBehavior.FullCone, "homeB").AddHost("b").Bind(5000);
        VirtualSocket observer = sim.AddHost().Bind(3478);
        IPEndPoint mappedA = MappedAs(a, observer);
        IPEndPoint mappedB = MappedAs(b, observer);
        mappedA.Address.ShouldBe(cgn.PublicAddress);
        mappedB.Address.ShouldBe(cgn.PublicAddress);

        SendAndSettle(a, mappedB);

        b.Inbox.ShouldHaveSingleItem(sim.Trace!.Tail()).From.ShouldBe(mappedA);
        cgn.Counters.Hairpinned.ShouldBe(1);
    }

    [Fact]
    public void HostsBehindAPlainRouterHavePublicAddressesReachableFromOutside()
    {
        var sim = new Simulator();
        NatRouter router = sim.AddNatRouter(NatBehavior.NoNat);
        VirtualSocket inside = router.AddHost().Bind(5000);
        VirtualSocket outside = sim.AddHost().Bind(5000);

        SendAndSettle(outside, inside.SourceEndPoint);

        inside.Inbox.ShouldHaveSingleItem().From.ShouldBe(outside.SourceEndPoint);
        Should.Throw<InvalidOperationException>(() => sim.AddHost(address: inside.Host.Address));
    }

    [Fact]
    public void PairedPoolingGivesEachInternalHostOnePublicAddress()
    {
        var sim = new Simulator();
        IPAddress[] publics = [IPAddress.Parse("203.0.113.1"), IPAddress.Parse("203.0.113.2")];
        NatRouter nat = sim.AddNatRouter(NatBehavior.Symmetric, publicAddresses: publics);
        VirtualHost server = sim.AddHost();
        VirtualSocket a = nat.AddHost("a").Bind(5000);
        VirtualSocket b = nat.AddHost("b").Bind(5000);

        IPAddress[] seenA = Enumerable.Range(1, 5).Select(p => MappedAs(a, server.Bind(p)).Address).Distinct().ToArray();
        IPAddress[] seenB = Enumerable.Range(11, 5).Select(p => MappedAs(b, server.Bind(p)).Address).Distinct().ToArray();

        // RFC 4787 REQ-2: one public IP per internal IP, even for a symmetric NAT.
        seenA.ShouldBe([publics[0]]);
        seenB.ShouldBe([publics[1]]);
    }

    [Fact]
    public void ArbitraryPoolingSpreadsMappingsOverThePublicAddresses()
    {
        var sim = new Simulator();
        IPAddress[] publics = [IPAddress.Parse("203.0.113.1"), IPAddress.Parse("203.0.113.2")];
        NatRouter nat = sim.AddNatRouter(NatBehavior.Symmetric with { AddressPooling = AddressPooling.Arbitrary }, publicAddresses: publics);
        VirtualHost server = sim.AddHost();
        VirtualSocket a = nat.AddHost().Bind(5000);

        Enumerable.Range(1, 20).Select(p => MappedAs(a, server.Bind(p)).Address).Distinct().Count().ShouldBe(2);
    }

    [Fact]
    public void FlushingMappingsClosesEveryHole()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.FullCone);
        VirtualSocket peer = sim.AddHost().Bind(3478);
        VirtualSocket socket = nat.AddHost().Bind(5000);
        IPEndPoint mapped = MappedAs(socket, peer);

        nat.FlushMappings();
        SendAndSettle(peer, mapped);

        socket.Inbox.ShouldBeEmpty();
        nat.Counters.DroppedFor(DropReason.NoMapping).ShouldBe(1);
    }

    [Fact]
    public void AFullPortRangeDropsNewFlows()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.Symmetric with { FirstPort = 40000, LastPort = 40002 });
        VirtualHost server = sim.AddHost();
        VirtualSocket socket = nat.AddHost().Bind(5000);

        for (int port = 1; port <= 4; port++)
        {
            SendAndSettle(socket, new IPEndPoint(server.Address, port));
        }

        nat.Mappings.Count.ShouldBe(3);
        nat.Counters.DroppedFor(DropReason.PortsExhausted).ShouldBe(1);
    }

    [Fact]
    public void ADatagramToAClosedPortIsCountedAsUnreachable()
    {
        var sim = new Simulator();
        VirtualSocket a = sim.AddHost().Bind(5000);
        VirtualHost b = sim.AddHost();

        SendAndSettle(a, new IPEndPoint(b.Address, 6000));

        sim.Counters.DroppedFor(DropReason.PortUnreachable).ShouldBe(1);
    }
}
