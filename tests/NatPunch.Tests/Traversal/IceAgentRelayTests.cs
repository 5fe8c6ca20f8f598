using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// Relayed candidates in the agent: Alice has a TURN allocation; the wire plays the relay (what Alice
/// sends through it reaches Bob from the relayed address, what Bob sends to that address reaches
/// Alice as a relayed datagram). Direct packets can be blocked and unblocked.
/// </summary>
public class IceAgentRelayTests
{
    private static readonly IPEndPoint AliceHost = IPEndPoint.Parse("192.0.2.1:5000");
    private static readonly IPEndPoint BobHost = IPEndPoint.Parse("192.0.2.2:6000");
    private static readonly IPEndPoint AliceRelayed = IPEndPoint.Parse("198.51.100.9:49152");
    private static readonly TimeSpan OneWay = TimeSpan.FromMilliseconds(10);

    private sealed class RelayWire(IceAgent alice, IceAgent bob)
    {
        private readonly PriorityQueue<Action, TimeSpan> _inFlight = new();

        public bool DirectBlocked { get; set; }

        public TimeSpan Now { get; private set; }

        public int RelayedDatagrams { get; private set; }

        /// <summary>What Alice sent from her relayed candidate.</summary>
        public int AliceRelayedSends { get; private set; }

        public void RunUntil(Func<bool> done, TimeSpan limit)
        {
            while (!done() && Now < limit)
            {
                Collect();
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
            while (alice.TryPollTransmit(Now, out OutgoingDatagram d))
            {
                if (d.To.Equals(BobHost) && !DirectBlocked)
                {
                    byte[] data = d.Payload.ToArray();
                    _inFlight.Enqueue(() => bob.HandleDatagram(data, AliceHost, Now), Now + OneWay);
                }
            }
            while (alice.TryPollRelayTransmit(out OutgoingDatagram d))
            {
                AliceRelayedSends++;
                if (d.To.Equals(BobHost))
                {
                    byte[] data = d.Payload.ToArray();
                    RelayedDatagrams++;
                    _inFlight.Enqueue(() => bob.HandleDatagram(data, AliceRelayed, Now), Now + 2 * OneWay);
                }
            }
            while (bob.TryPollTransmit(Now, out OutgoingDatagram d))
            {
                byte[] data = d.Payload.ToArray();
                if (d.To.Equals(AliceRelayed))
                {
                    RelayedDatagrams++;
                    _inFlight.Enqueue(() => alice.HandleRelayedDatagram(data, BobHost, Now), Now + 2 * OneWay);
                }
                else if (d.To.Equals(AliceHost) && !DirectBlocked)
                {
                    _inFlight.Enqueue(() => alice.HandleDatagram(data, BobHost, Now), Now + OneWay);
                }
            }
        }
    }

    private static readonly IceAgentOptions Options = IceAgentOptions.Default with { CheckTimeout = TimeSpan.FromSeconds(3) };

    private static (IceAgent Alice, IceAgent Bob) Introduce(IceAgentOptions options, bool bobIgnoresRelays = false, bool trickleLost = false)
    {
        var alice = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [AliceHost], [], options, TimeSpan.Zero);
        var bob = new IceAgent(IceRole.Controlled, IceCredentials.NewRandom(), [BobHost], [], options, TimeSpan.Zero)
        {
            IgnoreRelayedRemotes = bobIgnoresRelays,
        };
        if (trickleLost)
        {
            Exchange(alice, bob); // Bob never hears of the relayed candidate, only of its checks
            alice.AddRelayedCandidate(AliceRelayed, AliceHost);
        }
        else
        {
            alice.AddRelayedCandidate(AliceRelayed, AliceHost);
            Exchange(alice, bob);
        }
        Exchange(bob, alice);
        alice.StartChecks(TimeSpan.Zero);
        bob.StartChecks(TimeSpan.Zero);
        return (alice, bob);
    }

    private static void Exchange(IceAgent from, IceAgent to)
    {
        PeerOffer offer = from.CreateOffer();
        to.SetRemoteCredentials(new IceCredentials(offer.Ufrag, offer.Pwd));
        to.AddRemoteCandidates(offer.Candidates.Select(c => { Candidate.TryFromInfo(c, out Candidate parsed).ShouldBeTrue(); return parsed; }), TimeSpan.Zero);
    }

    private static List<IceEvent.Selected> Selections(IceAgent agent)
    {
        var selected = new List<IceEvent.Selected>();
        while (agent.TryPollEvent(out IceEvent e))
        {
            if (e is IceEvent.Selected s)
            {
                selected.Add(s);
            }
        }
        return selected;
    }

    [Fact]
    public void TheRelayedCandidateIsOfferedWithTheLowestTypePreferenceAndItsBase()
    {
        var alice = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [AliceHost], [], Options, TimeSpan.Zero);
        alice.AddRelayedCandidate(AliceRelayed, AliceHost);
        alice.AddRelayedCandidate(AliceRelayed, AliceHost); // the same allocation again adds nothing
        CandidateInfo relay = alice.CreateOffer().Candidates.Where(c => c.Type == "relay").ShouldHaveSingleItem();
        relay.Address.ShouldBe(AliceRelayed.ToString());
        relay.Related.ShouldBe(AliceHost.ToString());
        (relay.Priority >> 24).ShouldBe(0u);
    }

    [Fact]
    public void WithoutADirectPathBothSidesSelectTheRelayedPair()
    {
        var (alice, bob) = Introduce(Options);
        var wire = new RelayWire(alice, bob) { DirectBlocked = true };
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(10));

        alice.SelectedPair!.SendsViaRelay.ShouldBeTrue();
        alice.SelectedPair.Remote.EndPoint.ShouldBe(BobHost);
        bob.SelectedPair!.IsRelayed.ShouldBeTrue();
        bob.SelectedPair.Remote.EndPoint.ShouldBe(AliceRelayed);
        // Direct pairs were given their chance first.
        wire.Now.ShouldBeGreaterThanOrEqualTo(Options.RelayNominationDelay);
    }

    [Fact]
    public void ChecksThroughThePeersRelayAreKnownAsRelayedEvenBeforeItsCandidateArrives()
    {
        var (alice, bob) = Introduce(Options, trickleLost: true);
        var wire = new RelayWire(alice, bob) { DirectBlocked = true };
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(10));

        bob.SelectedPair!.Remote.Type.ShouldBe(CandidateType.PeerReflexive);
        bob.SelectedPair.Remote.EndPoint.ShouldBe(AliceRelayed);
        bob.SelectedPair.IsRelayed.ShouldBeTrue();
        wire.Now.ShouldBeGreaterThanOrEqualTo(Options.RelayNominationDelay);
    }

    [Fact]
    public void ADirectPathIsPreferredEvenWhenTheRelayAnswersToo()
    {
        var (alice, bob) = Introduce(Options);
        var wire = new RelayWire(alice, bob);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(10));

        alice.SelectedPair!.IsRelayed.ShouldBeFalse();
        bob.SelectedPair!.IsRelayed.ShouldBeFalse();
        bob.SelectedPair.Remote.EndPoint.ShouldBe(AliceHost);
        Selections(alice).ShouldHaveSingleItem();
    }

    [Fact]
    public void OnTheRelayTheAgentsUpgradeToDirectOnceItWorks()
    {
        var (alice, bob) = Introduce(Options);
        var wire = new RelayWire(alice, bob) { DirectBlocked = true };
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(10));
        alice.SelectedPair!.IsRelayed.ShouldBeTrue();
        // Long enough for every direct pair to have failed; consent keeps the relayed pair alive.
        wire.RunUntil(() => false, TimeSpan.FromSeconds(20));
        alice.SelectedPair.IsRelayed.ShouldBeTrue();

        TimeSpan unblocked = wire.Now;
        wire.DirectBlocked = false;
        wire.RunUntil(() => alice.SelectedPair is { IsRelayed: false } && bob.SelectedPair is { IsRelayed: false }, unblocked + TimeSpan.FromSeconds(15));

        alice.SelectedPair.IsRelayed.ShouldBeFalse();
        bob.SelectedPair!.IsRelayed.ShouldBeFalse();
        bob.SelectedPair.Remote.EndPoint.ShouldBe(AliceHost);
        (wire.Now - unblocked).ShouldBeLessThanOrEqualTo(Options.UpgradeInterval + TimeSpan.FromSeconds(1));
        List<IceEvent.Selected> aliceSelections = Selections(alice);
        aliceSelections.Count.ShouldBe(2);
        aliceSelections[0].Local.Type.ShouldBe(CandidateType.Relayed);
        aliceSelections[1].Local.Type.ShouldBe(CandidateType.Host);
        Selections(bob).Count.ShouldBe(2);
    }

    [Fact]
    public void APeerThatRefusesRelaysIgnoresRelayedCandidatesAndFailsWithoutADirectPath()
    {
        var (alice, bob) = Introduce(Options, bobIgnoresRelays: true);
        bob.Pairs.ShouldAllBe(p => !p.IsRelayed);
        var wire = new RelayWire(alice, bob) { DirectBlocked = true };
        wire.RunUntil(() => false, TimeSpan.FromSeconds(8));
        bob.SelectedPair.ShouldBeNull();
        wire.RelayedDatagrams.ShouldBeGreaterThan(0); // Alice tried; Bob did not answer through the relay
    }

    [Fact]
    public void ALostRelayTakesItsCandidateAndPairsAwayAndASelectedPathOnItIsLost()
    {
        var (alice, bob) = Introduce(Options);
        var wire = new RelayWire(alice, bob) { DirectBlocked = true };
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(10));
        alice.SelectedPair!.SendsViaRelay.ShouldBeTrue();
        Selections(alice);

        alice.RemoveRelayedCandidate(AliceRelayed, "the relay was lost: 437");

        alice.RelayedCandidates.ShouldBeEmpty();
        alice.LocalCandidates.ShouldAllBe(c => c.Type != CandidateType.Relayed);
        alice.CreateOffer().Candidates.ShouldAllBe(c => c.Type != "relay");
        alice.Pairs.ShouldAllBe(p => !p.SendsViaRelay);
        var events = new List<IceEvent>();
        while (alice.TryPollEvent(out IceEvent e))
        {
            events.Add(e);
        }
        IceEvent.PathLost pathLost = events.OfType<IceEvent.PathLost>().ShouldHaveSingleItem();
        pathLost.Remote.ShouldBe(BobHost);
        pathLost.Reason.ShouldContain("437");
        // Nothing is sent from the dead allocation any more: no consent checks, no retransmissions.
        int sent = wire.AliceRelayedSends;
        wire.RunUntil(() => false, wire.Now + TimeSpan.FromSeconds(20));
        wire.AliceRelayedSends.ShouldBe(sent);
        while (alice.TryPollEvent(out IceEvent later))
        {
            later.ShouldNotBeOfType<IceEvent.PathLost>(); // reported once
            later.ShouldNotBeOfType<IceEvent.ConsentLost>(); // and not again as a consent failure
        }
    }

    [Fact]
    public void ARelayLostBesideADirectPathOnlyTakesItsPairsAndANewAllocationIsPairedAgain()
    {
        var (alice, bob) = Introduce(Options);
        var wire = new RelayWire(alice, bob);
        wire.RunUntil(() => alice.SelectedPair is not null && bob.SelectedPair is not null, TimeSpan.FromSeconds(10));
        alice.SelectedPair!.IsRelayed.ShouldBeFalse();
        Selections(alice);

        alice.RemoveRelayedCandidate(AliceRelayed, "the relay was lost");
        alice.RemoveRelayedCandidate(AliceRelayed, "the relay was lost"); // twice: nothing more happens
        alice.Pairs.ShouldAllBe(p => !p.SendsViaRelay);
        alice.TryPollEvent(out IceEvent? e).ShouldBeFalse(e?.ToString());
        alice.SelectedPair.IsRelayed.ShouldBeFalse();

        IPEndPoint reallocated = IPEndPoint.Parse("198.51.100.9:49999");
        alice.AddRelayedCandidate(reallocated, AliceHost);
        alice.Pairs.Where(p => p.SendsViaRelay).ShouldHaveSingleItem().Remote.EndPoint.ShouldBe(BobHost);
        alice.TryPollEvent(out IceEvent? gathered).ShouldBeTrue();
        gathered.ShouldBeOfType<IceEvent.CandidateGathered>().Candidate.EndPoint.ShouldBe(reallocated);
    }
}
