using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// TCP candidates on the agent core, two agents on a fake clock: the offer carries them, the peer's
/// offer asks the driver to punch, a connection that opens is checked and selected like any pair
/// (below every UDP pair, above the relay), an unknown remote becomes a peer-reflexive TCP candidate,
/// a UDP pair that works later replaces the TCP one, and a closed connection loses the path. The
/// connections themselves are the driver's (the lab's TcpPunchingTests).
/// </summary>
public sealed class IceAgentTcpTests
{
    private static readonly IPEndPoint AliceHost = IPEndPoint.Parse("192.0.2.1:5000");
    private static readonly IPEndPoint BobHost = IPEndPoint.Parse("192.0.2.2:6000");
    private static readonly IPEndPoint AliceTcp = IPEndPoint.Parse("192.0.2.1:5000");
    private static readonly IPEndPoint BobTcp = IPEndPoint.Parse("192.0.2.2:6000");
    private static readonly TimeSpan OneWay = TimeSpan.FromMilliseconds(10);
    private static readonly IceAgentOptions Options = IceAgentOptions.Default with { PortProbing = null, ClashAvoidance = null, CheckTimeout = TimeSpan.FromSeconds(3) };

    /// <summary>UDP between the hosts (unless blocked), and TCP frames on the connections the test opened, each with a one-way delay.</summary>
    private sealed class Wire(IceAgent alice, IceAgent bob)
    {
        private readonly PriorityQueue<Action, TimeSpan> _inFlight = new();

        public bool UdpBlocked { get; set; }

        public TimeSpan Now { get; private set; }

        public List<IceEvent> AliceEvents { get; } = [];

        public List<IceEvent> BobEvents { get; } = [];

        /// <summary>Connections: Alice's remote endpoint for Bob, Bob's remote endpoint for Alice.</summary>
        public List<(IPEndPoint AliceSees, IPEndPoint BobSees)> Connections { get; } = [];

        public void Open(IPEndPoint aliceSees, IPEndPoint bobSees)
        {
            Connections.Add((aliceSees, bobSees));
            alice.TcpConnectionOpened(aliceSees, Now);
            bob.TcpConnectionOpened(bobSees, Now);
        }

        public void RunUntil(Func<bool> done, TimeSpan limit)
        {
            while (true)
            {
                Collect();
                if (done() || Now >= limit)
                {
                    return;
                }
                TimeSpan next = WakeUpTime.Earliest(alice.NextWakeUp, bob.NextWakeUp) ?? limit;
                if (_inFlight.TryPeek(out _, out TimeSpan arrival) && arrival < next)
                {
                    next = arrival;
                }
                Now = next > Now ? next : Now;
                while (_inFlight.TryPeek(out Action? deliver, out TimeSpan at) && at <= Now)
                {
                    _inFlight.Dequeue();
                    deliver();
                }
                if (alice.NextWakeUp <= Now) alice.HandleTimeout(Now);
                if (bob.NextWakeUp <= Now) bob.HandleTimeout(Now);
            }
        }

        private void Collect()
        {
            Collect(alice, bob, AliceHost, AliceEvents, c => c.AliceSees, c => c.BobSees);
            Collect(bob, alice, BobHost, BobEvents, c => c.BobSees, c => c.AliceSees);
        }

        private void Collect(IceAgent from, IceAgent to, IPEndPoint fromHost, List<IceEvent> events,
            Func<(IPEndPoint AliceSees, IPEndPoint BobSees), IPEndPoint> mine, Func<(IPEndPoint AliceSees, IPEndPoint BobSees), IPEndPoint> theirs)
        {
            while (from.TryPollTransmit(Now, out OutgoingDatagram datagram))
            {
                if (!UdpBlocked && (datagram.To.Equals(AliceHost) || datagram.To.Equals(BobHost)))
                {
                    byte[] data = datagram.Payload.ToArray();
                    _inFlight.Enqueue(() => to.HandleDatagram(data, fromHost, Now), Now + OneWay);
                }
            }
            while (from.TryPollTcpTransmit(out OutgoingDatagram frame))
            {
                foreach ((IPEndPoint AliceSees, IPEndPoint BobSees) connection in Connections.Where(c => mine(c).Equals(frame.To)))
                {
                    byte[] data = frame.Payload.ToArray();
                    IPEndPoint source = theirs(connection);
                    _inFlight.Enqueue(() => to.HandleTcpDatagram(data, source, Now), Now + OneWay);
                }
            }
            while (from.TryPollEvent(out IceEvent e))
            {
                events.Add(e);
            }
        }
    }

    private static readonly IPEndPoint StunServer = IPEndPoint.Parse("203.0.113.10:3478");

    /// <param name="bothHaveUdp">Both agents heard the STUN server over UDP (each gets a server-reflexive candidate, the host's own address).</param>
    private static (IceAgent Alice, IceAgent Bob, Wire Wire) Introduce(bool tcpOnBoth = true, bool bothHaveUdp = false)
    {
        IPEndPoint[] servers = bothHaveUdp ? [StunServer] : [];
        var alice = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [AliceHost], servers, Options, TimeSpan.Zero);
        var bob = new IceAgent(IceRole.Controlled, IceCredentials.NewRandom(), [BobHost], servers, Options, TimeSpan.Zero);
        if (bothHaveUdp)
        {
            StunServerStandIn.Answer(alice, TimeSpan.Zero, _ => IPEndPoint.Parse("198.51.100.1:5000"), otherAddress: null);
            StunServerStandIn.Answer(bob, TimeSpan.Zero, _ => IPEndPoint.Parse("198.51.100.2:6000"), otherAddress: null);
        }
        alice.AddTcpCandidates([AliceTcp], null);
        if (tcpOnBoth)
        {
            bob.AddTcpCandidates([BobTcp], null);
        }
        PeerOffer aliceOffer = alice.CreateOffer(), bobOffer = bob.CreateOffer();
        alice.ApplyRemoteOffer(bobOffer, TimeSpan.Zero, TimeSpan.Zero);
        bob.ApplyRemoteOffer(aliceOffer, TimeSpan.Zero, TimeSpan.Zero);
        return (alice, bob, new Wire(alice, bob));
    }

    [Fact]
    public void TheOfferCarriesTcpCandidatesAndThePeersOfferAsksForAPunchAtTheIntroductionsMoment()
    {
        var alice = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [AliceHost], [], Options, TimeSpan.Zero);
        alice.AddTcpCandidates([AliceTcp], IPEndPoint.Parse("198.51.100.1:41000"));
        PeerOffer offer = alice.CreateOffer();

        CandidateInfo[] tcp = [.. offer.Candidates.Where(c => c.Transport == CandidateInfo.TransportTcp)];
        tcp.Select(c => c.Type).ShouldBe(["host", "srflx"]);
        Candidate.TryFromInfo(tcp[1], out Candidate parsed).ShouldBeTrue();
        parsed.IsTcp.ShouldBeTrue();
        parsed.EndPoint.ShouldBe(IPEndPoint.Parse("198.51.100.1:41000"));
        // Below every UDP candidate (a direct UDP path wins), above the relay.
        uint udpServerReflexive = Candidate.ComputePriority(CandidateType.ServerReflexive, 65535);
        offer.Candidates.Where(c => c.Transport is not null).ShouldAllBe(c => c.Priority < udpServerReflexive);
        tcp.ShouldAllBe(c => c.Priority > Candidate.ComputePriority(CandidateType.Relayed, 65535));

        var bob = new IceAgent(IceRole.Controlled, IceCredentials.NewRandom(), [BobHost], [], Options, TimeSpan.Zero);
        bob.AddTcpCandidates([BobTcp], null);
        TimeSpan start = TimeSpan.FromMilliseconds(300);
        bob.ApplyRemoteOffer(offer, start, TimeSpan.Zero);
        var events = new List<IceEvent>();
        while (bob.TryPollEvent(out IceEvent e))
        {
            events.Add(e);
        }
        IceEvent.PunchTcp punch = events.OfType<IceEvent.PunchTcp>().ShouldHaveSingleItem();
        punch.Remotes.ShouldBe([AliceTcp, IPEndPoint.Parse("198.51.100.1:41000")]);
        punch.At.ShouldBe(start);
    }

    [Fact]
    public void WithUdpBlockedAPunchedConnectionCarriesTheChecksAndIsSelectedOnBothSides()
    {
        (IceAgent alice, IceAgent bob, Wire wire) = Introduce();
        wire.UdpBlocked = true;
        wire.RunUntil(() => false, TimeSpan.FromMilliseconds(200));
        alice.SelectedPair.ShouldBeNull("no UDP check can get through");

        wire.Open(BobTcp, AliceTcp);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(2));

        alice.SelectedPair.ShouldNotBeNull();
        alice.SelectedPair!.IsTcp.ShouldBeTrue();
        alice.SelectedPair.Remote.EndPoint.ShouldBe(BobTcp);
        bob.SelectedPair!.IsTcp.ShouldBeTrue();
        bob.SelectedPair.IsRelayed.ShouldBeFalse();
        wire.AliceEvents.OfType<IceEvent.Failed>().ShouldBeEmpty();
    }

    [Fact]
    public void AConnectionFromAnEndpointNotOfferedIsAPeerReflexiveTcpCandidate()
    {
        (IceAgent alice, IceAgent bob, Wire wire) = Introduce();
        wire.UdpBlocked = true;
        // Bob's NAT gave the connection another port than the offer's.
        IPEndPoint bobSeenByAlice = IPEndPoint.Parse("198.51.100.2:47000");

        wire.Open(bobSeenByAlice, AliceTcp);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(2));

        alice.SelectedPair.ShouldNotBeNull();
        alice.SelectedPair!.Remote.ShouldSatisfyAllConditions(
            r => r.Type.ShouldBe(CandidateType.PeerReflexive),
            r => r.IsTcp.ShouldBeTrue(),
            r => r.EndPoint.ShouldBe(bobSeenByAlice));
    }

    [Fact]
    public void WhenUdpWorksTheUdpPairIsSelectedAndTheTcpOneIsNot()
    {
        (IceAgent alice, IceAgent bob, Wire wire) = Introduce();
        wire.Open(BobTcp, AliceTcp);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(2));

        alice.SelectedPair!.IsTcp.ShouldBeFalse();
        bob.SelectedPair!.IsTcp.ShouldBeFalse();
        wire.AliceEvents.OfType<IceEvent.Selected>().ShouldHaveSingleItem();
    }

    [Fact]
    public void WhileAUdpPairMayStillWorkAWorkingTcpPairWaitsForIt()
    {
        (IceAgent alice, IceAgent bob, Wire wire) = Introduce(bothHaveUdp: true);
        wire.UdpBlocked = true; // UDP holes are slow to open this time
        wire.Open(BobTcp, AliceTcp);
        wire.RunUntil(() => false, TimeSpan.FromMilliseconds(300));
        alice.Pairs.ShouldContain(p => p.IsTcp && p.State == CandidatePairState.Succeeded);
        alice.SelectedPair.ShouldBeNull("both sides have UDP: the TCP pair waits up to TcpNominationDelay");

        wire.UdpBlocked = false;
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(3));

        alice.SelectedPair!.IsTcp.ShouldBeFalse();
        wire.AliceEvents.OfType<IceEvent.Selected>().ShouldHaveSingleItem();
        wire.Now.ShouldBeLessThan(Options.TcpNominationDelay, "the UDP pair is nominated as soon as it works, not at the end of the TCP pair's wait");
    }

    [Fact]
    public void WhenUdpNeverWorksTheTcpPairIsNominatedAfterItsWait()
    {
        (IceAgent alice, IceAgent bob, Wire wire) = Introduce(bothHaveUdp: true);
        wire.UdpBlocked = true;
        wire.Open(BobTcp, AliceTcp);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(3));

        alice.SelectedPair!.IsTcp.ShouldBeTrue();
        wire.Now.ShouldBeGreaterThanOrEqualTo(Options.TcpNominationDelay);
        wire.Now.ShouldBeLessThan(Options.TcpNominationDelay + TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void AUdpPairThatWorksLaterReplacesTheTcpOne()
    {
        (IceAgent alice, IceAgent bob, Wire wire) = Introduce();
        wire.UdpBlocked = true;
        wire.Open(BobTcp, AliceTcp);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(2));
        alice.SelectedPair!.IsTcp.ShouldBeTrue();

        wire.UdpBlocked = false; // the upgrade rounds (every UpgradeInterval) check the UDP pairs again
        wire.RunUntil(() => alice.SelectedPair is { IsTcp: false } && bob.SelectedPair is { IsTcp: false }, TimeSpan.FromSeconds(20));

        alice.SelectedPair.IsTcp.ShouldBeFalse();
        bob.SelectedPair!.IsTcp.ShouldBeFalse();
        wire.AliceEvents.OfType<IceEvent.Selected>().Count().ShouldBe(2);
    }

    [Fact]
    public void TheSelectedConnectionClosingLosesThePath()
    {
        (IceAgent alice, IceAgent bob, Wire wire) = Introduce();
        wire.UdpBlocked = true;
        wire.Open(BobTcp, AliceTcp);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(2));

        alice.TcpConnectionClosed(BobTcp, "reset by peer", wire.Now);
        wire.RunUntil(() => false, wire.Now + TimeSpan.FromMilliseconds(50));

        IceEvent.PathLost lost = wire.AliceEvents.OfType<IceEvent.PathLost>().ShouldHaveSingleItem();
        lost.Remote.ShouldBe(BobTcp);
        lost.Reason.ShouldBe("reset by peer");
    }

    [Fact]
    public void WithoutAnyConnectionTheTcpPairsFailAtTheCheckTimeout()
    {
        (IceAgent alice, _, Wire wire) = Introduce();
        wire.UdpBlocked = true;

        wire.RunUntil(() => wire.AliceEvents.OfType<IceEvent.Failed>().Any(), TimeSpan.FromSeconds(10));

        wire.AliceEvents.OfType<IceEvent.Failed>().ShouldHaveSingleItem();
        alice.Pairs.Where(p => p.IsTcp).ShouldAllBe(p => p.State == CandidatePairState.Failed);
        wire.Now.ShouldBeLessThan(TimeSpan.FromSeconds(4));
    }

    [Fact]
    public void APeerWithoutTcpCandidatesIsNotAskedToPunch()
    {
        (IceAgent alice, IceAgent _, Wire wire) = Introduce(tcpOnBoth: false);
        wire.RunUntil(() => false, TimeSpan.FromMilliseconds(10));
        wire.AliceEvents.OfType<IceEvent.PunchTcp>().ShouldBeEmpty();
        alice.Pairs.ShouldAllBe(p => !p.IsTcp);
    }
}
