using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>Two agents wired to each other without NATs: the basic check, nomination and consent flow.</summary>
public class IceAgentDirectTests
{
    private static readonly IPEndPoint AliceHost = IPEndPoint.Parse("192.0.2.1:5000");
    private static readonly IPEndPoint BobHost = IPEndPoint.Parse("192.0.2.2:6000");
    private static readonly TimeSpan OneWay = TimeSpan.FromMilliseconds(10);

    /// <summary>A lossless wire with a fixed one-way delay and an optional drop rule.</summary>
    private sealed class Wire(IceAgent alice, IceAgent bob)
    {
        private readonly PriorityQueue<(IceAgent To, byte[] Data, IPEndPoint From), TimeSpan> _inFlight = new();

        public Func<IPEndPoint, IPEndPoint, bool> Drop { get; set; } = (_, _) => false;

        public TimeSpan Now { get; private set; }

        public int Delivered { get; private set; }

        public void RunUntil(Func<bool> done, TimeSpan limit)
        {
            while (!done() && Now < limit)
            {
                Collect(alice, AliceHost);
                Collect(bob, BobHost);
                TimeSpan next = WakeUpTime.Earliest(alice.NextWakeUp, bob.NextWakeUp) ?? limit;
                if (_inFlight.TryPeek(out _, out TimeSpan arrival) && arrival < next)
                {
                    next = arrival;
                }
                Now = next > Now ? next : Now;
                while (_inFlight.TryPeek(out var packet, out TimeSpan at) && at <= Now)
                {
                    _inFlight.Dequeue();
                    packet.To.HandleDatagram(packet.Data, packet.From, Now);
                    Delivered++;
                }
                if (alice.NextWakeUp <= Now) alice.HandleTimeout(Now);
                if (bob.NextWakeUp <= Now) bob.HandleTimeout(Now);
            }
        }

        private void Collect(IceAgent agent, IPEndPoint self)
        {
            while (agent.TryPollTransmit(Now, out OutgoingDatagram datagram))
            {
                IceAgent? to = datagram.To.Equals(AliceHost) ? alice : datagram.To.Equals(BobHost) ? bob : null;
                if (to is not null && !Drop(self, datagram.To))
                {
                    _inFlight.Enqueue((to, datagram.Payload.ToArray(), self), Now + OneWay);
                }
            }
        }
    }

    private static (IceAgent Alice, IceAgent Bob) Pair(IceAgentOptions? options = null, IceRole aliceRole = IceRole.Controlling, IceRole bobRole = IceRole.Controlled)
    {
        options ??= IceAgentOptions.Default;
        var alice = new IceAgent(aliceRole, IceCredentials.NewRandom(), [AliceHost], [], options, TimeSpan.Zero);
        var bob = new IceAgent(bobRole, IceCredentials.NewRandom(), [BobHost], [], options, TimeSpan.Zero);
        Exchange(alice, bob);
        Exchange(bob, alice);
        return (alice, bob);
    }

    private static readonly IceAgentOptions ShortConsent =
        IceAgentOptions.Default with { ConsentInterval = TimeSpan.FromSeconds(1), ConsentTimeout = TimeSpan.FromSeconds(4) };

    /// <summary>Two agents that checked from time 0 and both selected their pair.</summary>
    private static (IceAgent Alice, IceAgent Bob, Wire Wire) Connected(IceAgentOptions? options = null,
        IceRole aliceRole = IceRole.Controlling, IceRole bobRole = IceRole.Controlled)
    {
        var (alice, bob) = Pair(options, aliceRole, bobRole);
        alice.StartChecks(TimeSpan.Zero);
        bob.StartChecks(TimeSpan.Zero);
        var wire = new Wire(alice, bob);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(5));
        alice.SelectedPair.ShouldNotBeNull();
        bob.SelectedPair.ShouldNotBeNull();
        return (alice, bob, wire);
    }

    private static void Exchange(IceAgent from, IceAgent to)
    {
        PeerOffer offer = from.CreateOffer();
        to.SetRemoteCredentials(new IceCredentials(offer.Ufrag, offer.Pwd));
        to.AddRemoteCandidates(offer.Candidates.Select(c => { Candidate.TryFromInfo(c, out Candidate parsed).ShouldBeTrue(); return parsed; }), TimeSpan.Zero);
    }

    private static List<IceEvent> Events(IceAgent agent)
    {
        var events = new List<IceEvent>();
        while (agent.TryPollEvent(out IceEvent e))
        {
            events.Add(e);
        }
        return events;
    }

    [Fact]
    public void BothSidesSelectTheSamePairWithinTwoRoundTrips()
    {
        var (alice, bob, wire) = Connected();
        alice.SelectedPair!.Remote.EndPoint.ShouldBe(BobHost);
        bob.SelectedPair!.Remote.EndPoint.ShouldBe(AliceHost);
        // check (1 RTT) + nomination (1 RTT) = 40 ms with a 10 ms one-way delay.
        wire.Now.ShouldBeLessThanOrEqualTo(TimeSpan.FromMilliseconds(40));
        Events(alice).OfType<IceEvent.Selected>().ShouldHaveSingleItem().RoundTrip.ShouldBe(TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void FirstChecksOfOneSideLostStillConnects()
    {
        // Bob's NAT drops Alice's packets until Bob has sent to Alice (a port-restricted NAT's behaviour).
        var (alice, bob) = Pair();
        alice.StartChecks(TimeSpan.Zero);
        bob.StartChecks(TimeSpan.FromMilliseconds(300));
        var wire = new Wire(alice, bob);
        bool bobHasSent = false;
        wire.Drop = (from, to) =>
        {
            if (from.Equals(BobHost)) { bobHasSent = true; return false; }
            return !bobHasSent;
        };
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(5));
        alice.SelectedPair.ShouldNotBeNull();
        bob.SelectedPair.ShouldNotBeNull();
    }

    [Fact]
    public void RoleConflictIsResolvedByTieBreaker()
    {
        var (alice, bob, _) = Connected(aliceRole: IceRole.Controlling, bobRole: IceRole.Controlling);
        (alice.IsControlling ^ bob.IsControlling).ShouldBeTrue();
    }

    [Fact]
    public void SilentPeerMeansFailureAfterTheCheckTimeout()
    {
        var options = IceAgentOptions.Default with { CheckTimeout = TimeSpan.FromSeconds(2) };
        var (alice, bob) = Pair(options);
        alice.StartChecks(TimeSpan.Zero);
        var wire = new Wire(alice, bob) { Drop = (_, _) => true };
        wire.RunUntil(() => false, TimeSpan.FromSeconds(3));
        IceEvent.Failed failed = Events(alice).OfType<IceEvent.Failed>().ShouldHaveSingleItem();
        failed.Reason.ShouldContain("1 candidate pairs");
    }

    [Fact]
    public void ConsentLossIsReportedAfterTheConsentTimeout()
    {
        var (alice, bob, wire) = Connected(ShortConsent);
        TimeSpan connectedAt = wire.Now;
        // Healthy path: consent keeps being renewed.
        wire.RunUntil(() => false, connectedAt + TimeSpan.FromSeconds(10));
        Events(alice).OfType<IceEvent.ConsentLost>().ShouldBeEmpty();
        // Path dies: reported within the consent timeout plus one interval.
        wire.Drop = (_, _) => true;
        TimeSpan diedAt = wire.Now;
        wire.RunUntil(() => false, diedAt + TimeSpan.FromSeconds(6));
        IceEvent.ConsentLost lost = Events(alice).OfType<IceEvent.ConsentLost>().ShouldHaveSingleItem();
        lost.Silence.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(4));
    }
    /// <summary>
    /// Between two agents only the one whose timer fires first checks consent: the other takes the
    /// peer's check for consent and waits another interval. About one check and one answer per
    /// interval (the earlier of two jittered timers, 4.7 s on average at 5 s), not two of each.
    /// </summary>
    [Fact]
    public void AnIdleSessionExchangesOneConsentCheckPerIntervalNotOneEachWay()
    {
        var (alice, bob, wire) = Connected();
        int sent = 0;
        wire.Drop = (_, _) => { sent++; return false; };
        TimeSpan from = wire.Now;
        wire.RunUntil(() => false, from + TimeSpan.FromSeconds(120));
        // 120 s: about 26 exchanges of two datagrams; one check each way every 5 s would be 96 datagrams.
        sent.ShouldBeInRange(40, 64);
        Events(alice).OfType<IceEvent.ConsentLost>().ShouldBeEmpty();
        Events(bob).OfType<IceEvent.ConsentLost>().ShouldBeEmpty();
        (wire.Now - alice.LastConsent).ShouldBeLessThan(TimeSpan.FromSeconds(7));
        (wire.Now - bob.LastConsent).ShouldBeLessThan(TimeSpan.FromSeconds(7));
    }

    /// <summary>
    /// When only one direction dies, the side whose checks go unanswered loses consent; it stops
    /// checking, so the other's checks resume and it loses consent too (each then restarts).
    /// </summary>
    [Fact]
    public void WhenOneDirectionDiesBothSidesStillLoseConsent()
    {
        var (alice, bob, wire) = Connected(ShortConsent);
        wire.Drop = (from, _) => from.Equals(BobHost); // Bob's datagrams no longer reach Alice
        TimeSpan diedAt = wire.Now;
        wire.RunUntil(() => false, diedAt + TimeSpan.FromSeconds(15));
        Events(alice).OfType<IceEvent.ConsentLost>().ShouldHaveSingleItem();
        Events(bob).OfType<IceEvent.ConsentLost>().ShouldHaveSingleItem();
    }
}
