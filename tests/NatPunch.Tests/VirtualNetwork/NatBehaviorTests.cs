using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// Each preset, probed the way an RFC 5780 client would: a host behind the NAT sends from one socket
/// to the STUN node's four addresses, and the answers (and silences) must be what RFC 4787 says.
/// </summary>
public class NatBehaviorTests
{
    private const int LocalPort = 5000;

    private sealed record Setup(Simulator Sim, StunServerNode Stun, NatRouter Nat, VirtualHost Host, VirtualSocket Socket);

    private static Setup Build(NatBehavior behavior, int seed = 1)
    {
        var sim = new Simulator(seed, trace: true);
        StunServerNode stun = sim.AddStunServer();
        NatRouter nat = sim.AddNatRouter(behavior, "nat", link: LinkConditions.WithLatency(10));
        VirtualHost host = nat.AddHost("alice", link: LinkConditions.WithLatency(1));
        return new Setup(sim, stun, nat, host, host.Bind(LocalPort));
    }

    private static IPEndPoint?[] MappedFromAllFourAddresses(Setup s) =>
        Enumerable.Range(0, 4).Select(i => StunProbe.Query(s.Socket, s.Stun.Addresses[i])?.Mapped).ToArray();

    [Fact]
    public void PresetsAreTheRfc4787Combinations()
    {
        NatBehavior.FullCone.ShouldSatisfyAllConditions(
            b => b.Mapping.ShouldBe(MappingBehavior.EndpointIndependent), b => b.Filtering.ShouldBe(FilteringBehavior.EndpointIndependent));
        NatBehavior.RestrictedCone.ShouldSatisfyAllConditions(
            b => b.Mapping.ShouldBe(MappingBehavior.EndpointIndependent), b => b.Filtering.ShouldBe(FilteringBehavior.AddressDependent));
        NatBehavior.PortRestrictedCone.ShouldSatisfyAllConditions(
            b => b.Mapping.ShouldBe(MappingBehavior.EndpointIndependent), b => b.Filtering.ShouldBe(FilteringBehavior.AddressAndPortDependent));
        NatBehavior.Symmetric.ShouldSatisfyAllConditions(
            b => b.Mapping.ShouldBe(MappingBehavior.AddressAndPortDependent), b => b.Filtering.ShouldBe(FilteringBehavior.AddressAndPortDependent),
            b => b.PortAssignment.ShouldBe(PortAssignment.Random));
        NatBehavior.Presets.Select(p => p.Name).ShouldBe(["NoNat", "FullCone", "RestrictedCone", "PortRestrictedCone", "Symmetric", "UdpBlocked"]);
        NatBehavior.Preset("Symmetric").ShouldBeSameAs(NatBehavior.Symmetric);
    }

    [Fact]
    public void NoNatShowsTheHostItsOwnPublicAddress()
    {
        Setup s = Build(NatBehavior.NoNat);
        s.Host.Address.ShouldNotBe(s.Nat.PublicAddress);
        MappedFromAllFourAddresses(s).ShouldAllBe(m => m!.Equals(s.Socket.SourceEndPoint));
        s.Nat.Mappings.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("FullCone")]
    [InlineData("RestrictedCone")]
    [InlineData("PortRestrictedCone")]
    public void EndpointIndependentMappingUsesOneMappingForEveryDestination(string preset)
    {
        Setup s = Build(NatBehavior.Preset(preset));
        IPEndPoint?[] mapped = MappedFromAllFourAddresses(s);
        // RFC 4787 §4.1 EIM: the same external address and port whatever the destination; and port
        // preservation (§4.2.1) keeps the internal port.
        mapped.ShouldAllBe(m => m!.Equals(new IPEndPoint(s.Nat.PublicAddress, LocalPort)), s.Sim.Trace!.Tail());
        s.Nat.Mappings.Count.ShouldBe(1);
    }

    [Fact]
    public void SymmetricNatGivesEveryDestinationItsOwnRandomPort()
    {
        Setup s = Build(NatBehavior.Symmetric);
        IPEndPoint?[] mapped = MappedFromAllFourAddresses(s);
        // RFC 4787 §4.1 APDM: each destination IP:port gets a separate mapping, same public IP.
        mapped.ShouldAllBe(m => m != null && m.Address.Equals(s.Nat.PublicAddress));
        mapped.Select(m => m!.Port).Distinct().Count().ShouldBe(4);
        s.Nat.Mappings.Count.ShouldBe(4);
        // Asking the same destination again reuses its mapping.
        StunProbe.Query(s.Socket, s.Stun.Addresses[2])!.Mapped.ShouldBe(mapped[2]);
    }

    [Fact]
    public void AddressDependentMappingSharesAMappingPerDestinationAddress()
    {
        Setup s = Build(NatBehavior.PortRestrictedCone with { Mapping = MappingBehavior.AddressDependent });
        IPEndPoint?[] mapped = MappedFromAllFourAddresses(s);
        // RFC 4787 §4.1 ADM: indices 0 and 1 share the primary IP, 2 and 3 the alternate IP.
        mapped[1].ShouldBe(mapped[0]);
        mapped[3].ShouldBe(mapped[2]);
        mapped[2].ShouldNotBe(mapped[0]);
    }

    [Fact]
    public void UdpBlockedLetsNothingThrough()
    {
        Setup s = Build(NatBehavior.UdpBlocked);
        MappedFromAllFourAddresses(s).ShouldAllBe(m => m == null);
        s.Stun.Requests.ShouldBe(0);
        s.Nat.Counters.DroppedFor(DropReason.UdpBlocked).ShouldBe(4);

        VirtualSocket outsider = s.Sim.AddHost("outsider").Bind(7000);
        outsider.Send(s.Socket.SourceEndPoint, [1]);
        s.Sim.RunFor(TimeSpan.FromSeconds(1));
        s.Socket.Inbox.ShouldBeEmpty();
        s.Nat.Counters.DroppedFor(DropReason.UdpBlocked).ShouldBe(5);
    }

    /// <summary>
    /// RFC 5780 §4.4's filtering test: after a plain request, ask for the answer from the other IP and
    /// port, then from the other port only. RFC 4787 §5: EIF lets both in, ADF only the second (same
    /// IP), APDF neither.
    /// </summary>
    [Theory]
    [InlineData("NoNat", true, true)]
    [InlineData("FullCone", true, true)]
    [InlineData("RestrictedCone", false, true)]
    [InlineData("PortRestrictedCone", false, false)]
    [InlineData("Symmetric", false, false)]
    public void FilteringDecidesWhichChangedAddressAnswersGetThrough(string preset, bool otherAddressGetsIn, bool otherPortGetsIn)
    {
        Setup s = Build(NatBehavior.Preset(preset));
        IPEndPoint primary = s.Stun.Primary;
        StunProbe.Query(s.Socket, primary).ShouldNotBeNull();

        StunProbe.Answer? changedBoth = StunProbe.Query(s.Socket, primary, ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort);
        StunProbe.Answer? changedPort = StunProbe.Query(s.Socket, primary, ChangeRequestFlags.ChangePort);

        (changedBoth is not null).ShouldBe(otherAddressGetsIn, s.Sim.Trace!.Tail());
        (changedPort is not null).ShouldBe(otherPortGetsIn, s.Sim.Trace.Tail());
        changedBoth?.From.ShouldBe(s.Stun.Addresses[3]);
        changedPort?.From.ShouldBe(s.Stun.Addresses[1]);
        s.Stun.Responses.ShouldBe(3); // the server answered every time; the NAT decided
        long expectedFiltered = (otherAddressGetsIn ? 0 : 1) + (otherPortGetsIn ? 0 : 1);
        s.Nat.Counters.DroppedFor(DropReason.Filtered).ShouldBe(expectedFiltered);
    }

    [Theory]
    [InlineData("NoNat", true)]
    [InlineData("FullCone", true)]
    [InlineData("RestrictedCone", false)]
    [InlineData("PortRestrictedCone", false)]
    [InlineData("Symmetric", false)]
    public void OnlyEndpointIndependentFilteringLetsAStrangerIntoAnExistingMapping(string preset, bool strangerGetsIn)
    {
        Setup s = Build(NatBehavior.Preset(preset));
        IPEndPoint mapped = StunProbe.Query(s.Socket, s.Stun.Primary)!.Mapped;
        VirtualSocket stranger = s.Sim.AddHost("stranger").Bind(9999);

        stranger.Send(mapped, [42]);
        s.Sim.RunFor(TimeSpan.FromSeconds(1));

        s.Socket.Inbox.Count.ShouldBe(strangerGetsIn ? 1 : 0, s.Sim.Trace!.Tail());
        if (strangerGetsIn)
        {
            s.Socket.Inbox[0].From.ShouldBe(stranger.SourceEndPoint);
        }
        else
        {
            s.Sim.Trace.Entries.Last().ShouldSatisfyAllConditions(
                e => e.Reason.ShouldBe(DropReason.Filtered), e => e.Node.ShouldBe("nat"));
        }
    }

    [Theory]
    [InlineData("FullCone")]
    [InlineData("RestrictedCone")]
    [InlineData("PortRestrictedCone")]
    [InlineData("Symmetric")]
    public void NothingGetsInBeforeTheHostHasSentAnything(string preset)
    {
        Setup s = Build(NatBehavior.Preset(preset));
        VirtualSocket stranger = s.Sim.AddHost("stranger").Bind(9999);

        stranger.Send(new IPEndPoint(s.Nat.PublicAddress, LocalPort), [1]);
        s.Sim.RunFor(TimeSpan.FromSeconds(1));

        s.Socket.Inbox.ShouldBeEmpty();
        s.Nat.Counters.DroppedFor(DropReason.NoMapping).ShouldBe(1);
    }

    [Fact]
    public void RestrictedConeAdmitsAnyPortOfAContactedAddress()
    {
        Setup s = Build(NatBehavior.RestrictedCone);
        VirtualHost peerHost = s.Sim.AddHost("peer");
        VirtualSocket contacted = peerHost.Bind(7000);
        VirtualSocket otherPort = peerHost.Bind(7001);
        s.Socket.Send(contacted.SourceEndPoint, [1]);
        s.Sim.RunFor(TimeSpan.FromSeconds(1));
        IPEndPoint mapped = contacted.Inbox.ShouldHaveSingleItem().From;

        otherPort.Send(mapped, [2]);
        s.Sim.RunFor(TimeSpan.FromSeconds(1));

        s.Socket.Inbox.ShouldHaveSingleItem().From.ShouldBe(otherPort.SourceEndPoint);
    }

    [Fact]
    public void AStatefulFirewallWithoutNatKeepsAddressesButFiltersUnsolicitedTraffic()
    {
        Setup s = Build(NatBehavior.NoNat with { Name = "Firewall", Filtering = FilteringBehavior.AddressAndPortDependent });
        VirtualSocket stranger = s.Sim.AddHost("stranger").Bind(9999);

        stranger.Send(s.Socket.SourceEndPoint, [1]);
        s.Sim.RunFor(TimeSpan.FromSeconds(1));
        s.Socket.Inbox.ShouldBeEmpty();
        s.Nat.Counters.DroppedFor(DropReason.Filtered).ShouldBe(1);

        StunProbe.Query(s.Socket, s.Stun.Primary)!.Mapped.ShouldBe(s.Socket.SourceEndPoint);
        StunProbe.Query(s.Socket, s.Stun.Primary, ChangeRequestFlags.ChangePort).ShouldBeNull();
    }
}
