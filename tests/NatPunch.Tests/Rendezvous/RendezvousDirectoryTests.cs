using NatPunch.Testing;
using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Turn;
using NatPunch.Server;
using NatPunch.Server.Rendezvous;
using NatPunch.Server.Turn;

namespace NatPunch.Tests.Rendezvous;

public class RendezvousDirectoryTests
{
    private static readonly PeerOffer AliceOffer = new("aU", "aP", [new CandidateInfo("host", "10.0.0.1:5000", 2130706431, "1")]);
    private static readonly PeerOffer BobOffer = new("bU", "bP", [new CandidateInfo("srflx", "198.51.100.2:6000", 1694498815, "2", "10.0.0.2:6000")]);

    private readonly RendezvousDirectory _directory = new(RendezvousOptions.Default);
    private TimeSpan _now = TimeSpan.FromSeconds(100);

    private List<RendezvousOutput> Drain() => DirectoryOutputs.Drain(_directory);

    private static T Single<T>(List<RendezvousOutput> outputs, long connection) where T : RendezvousMessage =>
        DirectoryOutputs.Single<T>(outputs, connection);

    private void Open(long id, string remote = "192.0.2.9:40000") => _directory.Connected(id, IPEndPoint.Parse(remote), _now);

    private void Register(long id, string name, PeerOffer? offer = null, string? instance = null)
    {
        Open(id);
        _directory.Received(id, new RegisterMessage(name, null, offer, instance, "test"), _now);
    }

    [Fact]
    public void ConnectIntroducesBothSidesWithEachOthersOffer()
    {
        Register(1, "bob", BobOffer);
        Register(2, "alice");
        Drain();
        _directory.Received(2, new ConnectMessage("bob", 0, AliceOffer), _now);
        List<RendezvousOutput> outputs = Drain();
        IntroduceMessage toAlice = Single<IntroduceMessage>(outputs, 2);
        IntroduceMessage toBob = Single<IntroduceMessage>(outputs, 1);
        toAlice.Session.ShouldBe(toBob.Session);
        toAlice.Role.ShouldBe(IceRole.Controlling);
        toBob.Role.ShouldBe(IceRole.Controlled);
        toAlice.Offer.ShouldBe(BobOffer);
        toBob.Offer.ShouldBe(AliceOffer);
        toAlice.Peer.ShouldBe("bob");
        toBob.Peer.ShouldBe("alice");
    }

    [Fact]
    public void StartIsDelayedForTheNearerPeerSoBothStartTogether()
    {
        Register(1, "bob", BobOffer);
        Register(2, "alice");
        List<RendezvousOutput> outputs = Drain();
        long bobPing = Single<PingMessage>(outputs, 1).Id;
        long alicePing = Single<PingMessage>(outputs, 2).Id;
        _directory.Received(1, new PongMessage(bobPing), _now + TimeSpan.FromMilliseconds(20));
        _directory.Received(2, new PongMessage(alicePing), _now + TimeSpan.FromMilliseconds(100));
        _directory.Received(2, new ConnectMessage("bob", 0, AliceOffer), _now + TimeSpan.FromMilliseconds(200));
        outputs = Drain();
        Single<IntroduceMessage>(outputs, 2).StartInMs.ShouldBe(0);
        Single<IntroduceMessage>(outputs, 1).StartInMs.ShouldBe(40); // (100 - 20) / 2
    }

    [Fact]
    public void TokenIsRequiredWhenConfigured()
    {
        var directory = new RendezvousDirectory(RendezvousOptions.Default with { Token = "s3cret" });
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:1"), _now);
        directory.Received(1, new RegisterMessage("bob", null, null, null, null), _now);
        directory.Connected(2, IPEndPoint.Parse("192.0.2.9:2"), _now);
        directory.Received(2, new RegisterMessage("bob", "wrong", null, null, null), _now);
        directory.Connected(3, IPEndPoint.Parse("192.0.2.9:3"), _now);
        directory.Received(3, new RegisterMessage("bob", "s3cret", null, null, null), _now);
        var outputs = new List<RendezvousOutput>();
        while (directory.TryPollOutput(out RendezvousOutput o))
        {
            outputs.Add(o);
        }
        ErrorMessage missing = Single<ErrorMessage>(outputs, 1);
        missing.Code.ShouldBe(RendezvousErrorCodes.Unauthorized);
        missing.Message.ShouldContain("requires a token");
        outputs.ShouldContain(o => o.ConnectionId == 1 && o.Close);
        Single<ErrorMessage>(outputs, 2).Message.ShouldBe("wrong token");
        Single<RegisteredMessage>(outputs, 3).Name.ShouldBe("bob");
        directory.IsRegistered("bob").ShouldBeTrue();
    }

    [Fact]
    public void RegisteredCarriesATurnGrantForTheNameWhenTheServerRunsARelay()
    {
        var issuer = new TurnGrantIssuer("grant-secret", TimeSpan.FromHours(1));
        var directory = new RendezvousDirectory(RendezvousOptions.Default, issuer);
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:1"), _now);
        DateTimeOffset before = DateTimeOffset.UtcNow;
        directory.Received(1, new RegisterMessage("bob", null, null, null, null), _now);
        TurnGrant grant = Single<RegisteredMessage>(Drain(directory), 1).Turn.ShouldNotBeNull();
        grant.Username.ShouldEndWith(":bob");
        grant.Password.ShouldBe(TurnRestCredentials.Password("grant-secret", grant.Username));
        grant.TtlS.ShouldBe(3600);
        TurnRestCredentials.TryGetExpiry(grant.Username, out DateTimeOffset expiry).ShouldBeTrue();
        expiry.ShouldBeInRange(before.AddSeconds(3599), DateTimeOffset.UtcNow.AddSeconds(3600));
    }

    [Fact]
    public void AFreshGrantComesHalfWayThroughTheLastOnesLifeAndAllEndWithTheRegistration()
    {
        var clock = new ManualTimeProvider();
        var issuer = new TurnGrantIssuer("grant-secret", TimeSpan.FromSeconds(60), clock);
        // A client that never answers pings stays: only the grant's schedule is under test.
        var directory = new RendezvousDirectory(RendezvousOptions.Default with { DeadAfter = TimeSpan.FromHours(1) }, issuer);
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:1"), _now);
        directory.Received(1, new RegisterMessage("bob", null, null, "instance-1", null), _now);
        TurnGrant first = Single<RegisteredMessage>(Drain(directory), 1).Turn.ShouldNotBeNull();

        var grants = new List<(TimeSpan At, TurnGrant Grant)>();
        for (TimeSpan t = TimeSpan.Zero; t <= TimeSpan.FromSeconds(100); t += TimeSpan.FromSeconds(1))
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            directory.HandleTimeout(_now + t + TimeSpan.FromSeconds(1));
            grants.AddRange(Drain(directory).Select(o => o.Message).OfType<GrantMessage>().Select(g => (t + TimeSpan.FromSeconds(1), g.Turn)));
        }
        // Renewed every half lifetime (at the first ping from 30 s on), each valid for the full lifetime from then.
        grants.Count.ShouldBe(3, string.Join(", ", grants));
        grants[0].At.ShouldBeInRange(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(33));
        grants[0].Grant.Username.ShouldNotBe(first.Username);
        TurnRestCredentials.TryGetExpiry(grants[0].Grant.Username, out DateTimeOffset expiry).ShouldBeTrue();
        expiry.ShouldBe(clock.GetUtcNow() - TimeSpan.FromSeconds(101) + grants[0].At + TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1));
        grants[0].Grant.Password.ShouldBe(TurnRestCredentials.Password("grant-secret", grants[0].Grant.Username));

        // When the registration ends, every grant it got is revoked: allocations made with an expired
        // one live on until then, and end with it.
        directory.Disconnected(1, "gone", _now + TimeSpan.FromSeconds(101));
        directory.HandleTimeout(_now + TimeSpan.FromSeconds(101) + RendezvousOptions.Default.ResumeWindow);
        issuer.Revoked.IsRevoked(grants[^1].Grant.Username).ShouldBeTrue();
        issuer.Revoked.IsRevoked(first.Username).ShouldBeTrue();
    }

    [Fact]
    public void AGrantEndsWithItsRegistrationOnceTheResumeWindowHasPassed()
    {
        var issuer = new TurnGrantIssuer("grant-secret", TimeSpan.FromHours(1));
        var directory = new RendezvousDirectory(RendezvousOptions.Default, issuer);
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:1"), _now);
        directory.Received(1, new RegisterMessage("bob", null, null, "instance-1", null), _now);
        TurnGrant grant = Single<RegisteredMessage>(Drain(directory), 1).Turn.ShouldNotBeNull();

        directory.Disconnected(1, "gone", _now);
        directory.HandleTimeout(_now + RendezvousOptions.Default.ResumeWindow - TimeSpan.FromSeconds(1));
        issuer.Revoked.IsRevoked(grant.Username).ShouldBeFalse("it may still come back");
        directory.NextWakeUp.ShouldBe(_now + RendezvousOptions.Default.ResumeWindow);
        directory.HandleTimeout(_now + RendezvousOptions.Default.ResumeWindow);
        issuer.Revoked.IsRevoked(grant.Username).ShouldBeTrue();
    }

    [Fact]
    public void TheSameProcessRegisteringAgainInTimeKeepsItsGrantsUntilItsNewRegistrationEnds()
    {
        var issuer = new TurnGrantIssuer("grant-secret", TimeSpan.FromHours(1));
        var directory = new RendezvousDirectory(RendezvousOptions.Default, issuer);
        TimeSpan window = RendezvousOptions.Default.ResumeWindow;
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:1"), _now);
        directory.Received(1, new RegisterMessage("bob", null, null, "instance-1", null), _now);
        TurnGrant first = Single<RegisteredMessage>(Drain(directory), 1).Turn!;
        directory.Disconnected(1, "network change", _now);

        directory.Connected(2, IPEndPoint.Parse("192.0.2.9:2"), _now + TimeSpan.FromSeconds(5));
        directory.Received(2, new RegisterMessage("bob", null, null, "instance-1", null), _now + TimeSpan.FromSeconds(5));
        TurnGrant second = Single<RegisteredMessage>(Drain(directory), 2).Turn!;
        directory.HandleTimeout(_now + window + window / 2);
        issuer.Revoked.IsRevoked(first.Username).ShouldBeFalse("the relayed sessions of the process that came back keep their allocations");

        directory.Disconnected(2, "gone", _now + window + window / 2);
        directory.HandleTimeout(_now + 3 * window);
        issuer.Revoked.IsRevoked(first.Username).ShouldBeTrue();
        issuer.Revoked.IsRevoked(second.Username).ShouldBeTrue();
    }

    [Fact]
    public void OneSourceRegistersAtMostItsRateWrongTokensIncludedAndAnotherSourceIsNotHeld()
    {
        var directory = new RendezvousDirectory(RendezvousOptions.Default with { Token = "t", RegistrationsPerMinute = 3 });
        for (int i = 1; i <= 4; i++)
        {
            directory.Connected(i, IPEndPoint.Parse($"192.0.2.9:{i}"), _now);
            directory.Received(i, new RegisterMessage($"n{i}", i == 1 ? "wrong" : "t", null, null, null), _now);
        }
        List<RendezvousOutput> outputs = Drain(directory);
        Single<ErrorMessage>(outputs, 1).Code.ShouldBe(RendezvousErrorCodes.Unauthorized);
        Single<RegisteredMessage>(outputs, 2).Name.ShouldBe("n2");
        Single<RegisteredMessage>(outputs, 3).Name.ShouldBe("n3");
        RendezvousOutput refused = outputs.Single(o => o.ConnectionId == 4);
        refused.Refusal.ShouldBe(ServerRefusal.RendezvousRegisterRate);
        refused.Close.ShouldBeTrue();

        directory.Connected(5, IPEndPoint.Parse("192.0.2.10:1"), _now);
        directory.Received(5, new RegisterMessage("other", "t", null, null, null), _now);
        Single<RegisteredMessage>(Drain(directory), 5).Name.ShouldBe("other");

        // A minute later the source may register again.
        directory.Connected(6, IPEndPoint.Parse("192.0.2.9:6"), _now + TimeSpan.FromSeconds(20));
        directory.Received(6, new RegisterMessage("n6", "t", null, null, null), _now + TimeSpan.FromSeconds(20));
        Single<RegisteredMessage>(Drain(directory), 6).Name.ShouldBe("n6");
    }

    [Fact]
    public void AllConnectionsOfOneSourceShareAMessageBudgetAndOtherSourcesAreNotHeld()
    {
        // Per connection 100 at once, per source 2 a second (20 at once): the source's budget runs out first.
        var directory = new RendezvousDirectory(RendezvousOptions.Default with { MessageBurst = 100, MessagesPerSecondPerAddress = 2 });
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:1"), _now);
        directory.Connected(2, IPEndPoint.Parse("192.0.2.9:2"), _now);
        directory.Connected(3, IPEndPoint.Parse("192.0.2.10:1"), _now);
        for (int i = 0; i < 10; i++)
        {
            directory.Received(1, new PingMessage(i), _now);
            directory.Received(2, new PingMessage(i), _now);
        }
        Drain(directory).ShouldAllBe(o => o.Refusal == null && !o.Close);

        directory.Received(2, new PingMessage(10), _now);
        RendezvousOutput refused = Drain(directory).Single(o => o.Close);
        refused.ConnectionId.ShouldBe(2);
        refused.Refusal.ShouldBe(ServerRefusal.RendezvousMessageRate);

        directory.Received(3, new PingMessage(1), _now);
        Single<PongMessage>(Drain(directory), 3).Id.ShouldBe(1);
    }

    [Fact]
    public void WithoutARelayRegisteredCarriesNoGrant()
    {
        Register(1, "bob");
        Single<RegisteredMessage>(Drain(), 1).Turn.ShouldBeNull();
    }

    [Fact]
    public void NoGrantWithoutTheRightTokenOrForARefusedName()
    {
        var directory = new RendezvousDirectory(RendezvousOptions.Default with { Token = "s3cret" },
            new TurnGrantIssuer("grant-secret", TimeSpan.FromHours(1)));
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:1"), _now);
        directory.Received(1, new RegisterMessage("bob", "wrong", null, null, null), _now);
        directory.Connected(2, IPEndPoint.Parse("192.0.2.9:2"), _now);
        directory.Received(2, new RegisterMessage("bob", null, null, null, null), _now);
        directory.Connected(3, IPEndPoint.Parse("192.0.2.9:3"), _now);
        directory.Received(3, new RegisterMessage("has space", "s3cret", null, null, null), _now);
        List<RendezvousOutput> refused = Drain(directory);
        refused.ShouldNotContain(o => o.Message is RegisteredMessage);
        refused.Select(o => o.Message).ShouldAllBe(m => m is ErrorMessage);

        directory.Connected(4, IPEndPoint.Parse("192.0.2.9:4"), _now);
        directory.Received(4, new RegisterMessage("bob", "s3cret", null, null, null), _now);
        Single<RegisteredMessage>(Drain(directory), 4).Turn.ShouldNotBeNull();
    }

    private static List<RendezvousOutput> Drain(RendezvousDirectory directory)
    {
        var outputs = new List<RendezvousOutput>();
        while (directory.TryPollOutput(out RendezvousOutput output))
        {
            outputs.Add(output);
        }
        return outputs;
    }

    [Fact]
    public void NameTakenUnlessTheSameInstanceComesBack()
    {
        Register(1, "bob", instance: "i1");
        Register(2, "bob", instance: "i2");
        Single<ErrorMessage>(Drain(), 2).Code.ShouldBe(RendezvousErrorCodes.NameTaken);
        Register(3, "bob", instance: "i1");
        List<RendezvousOutput> outputs = Drain();
        Single<RegisteredMessage>(outputs, 3);
        outputs.ShouldContain(o => o.ConnectionId == 1 && o.Close);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("semi;colon")]
    public void InvalidNamesAreRefused(string name)
    {
        Register(1, name);
        Single<ErrorMessage>(Drain(), 1).Code.ShouldBe(RendezvousErrorCodes.BadRequest);
    }

    [Fact]
    public void UnknownPeerWithoutWaitIsAnErrorAtOnce()
    {
        Register(2, "alice");
        Drain();
        _directory.Received(2, new ConnectMessage("nobody", 0, AliceOffer), _now);
        ErrorMessage error = Single<ErrorMessage>(Drain(), 2);
        error.Code.ShouldBe(RendezvousErrorCodes.PeerUnknown);
        error.Message.ShouldContain("nobody");
    }

    [Fact]
    public void ConnectWaitsForThePeerToRegister()
    {
        Register(2, "alice");
        _directory.Received(2, new ConnectMessage("bob", 5000, AliceOffer), _now);
        Drain().ShouldNotContain(o => o.Message is ErrorMessage);
        _now += TimeSpan.FromSeconds(2);
        Register(1, "bob", BobOffer);
        List<RendezvousOutput> outputs = Drain();
        Single<IntroduceMessage>(outputs, 2).Peer.ShouldBe("bob");
        Single<IntroduceMessage>(outputs, 1).Peer.ShouldBe("alice");
    }

    [Fact]
    public void ConnectWaitEndsWithAClearError()
    {
        Register(2, "alice");
        _directory.Received(2, new ConnectMessage("bob", 5000, AliceOffer), _now);
        Drain();
        _directory.NextWakeUp.ShouldNotBeNull();
        _now += TimeSpan.FromSeconds(5);
        _directory.Received(2, new PongMessage(0), _now); // keep alice alive
        _directory.HandleTimeout(_now);
        ErrorMessage error = Single<ErrorMessage>(Drain(), 2);
        error.Code.ShouldBe(RendezvousErrorCodes.PeerUnknown);
        error.Message.ShouldContain("within 5 s");
    }

    [Fact]
    public void BothCallingEachOtherAtOnceMakeOneSession()
    {
        Register(1, "alice");
        Register(2, "bob");
        Drain();
        _directory.Received(1, new ConnectMessage("bob", 5000, AliceOffer), _now);
        _directory.Received(2, new ConnectMessage("alice", 5000, BobOffer), _now);
        List<RendezvousOutput> outputs = Drain();
        IntroduceMessage toAlice = Single<IntroduceMessage>(outputs, 1);
        IntroduceMessage toBob = Single<IntroduceMessage>(outputs, 2);
        toAlice.Session.ShouldBe(toBob.Session);
        toAlice.Role.ShouldBe(IceRole.Controlling); // alice asked first
        outputs.ShouldNotContain(o => o.Message is ErrorMessage);
    }

    [Fact]
    public void AConnectCarriesItsOwnOfferAndLeavesTheConnectorsListeningOfferForItsOwnPeers()
    {
        Register(1, "bob", BobOffer);
        Register(2, "alice", AliceOffer); // alice listens and connects: a node
        Register(3, "carol");
        Drain();
        var aliceToBob = AliceOffer with { Ufrag = "a2" };
        _directory.Received(2, new ConnectMessage("bob", 0, aliceToBob), _now);
        Single<IntroduceMessage>(Drain(), 1).Offer.ShouldBe(aliceToBob);
        _directory.Received(3, new ConnectMessage("alice", 0, BobOffer), _now);
        IntroduceMessage toCarol = Single<IntroduceMessage>(Drain(), 3);
        toCarol.Peer.ShouldBe("alice");
        toCarol.Offer.ShouldBe(AliceOffer);
    }

    [Fact]
    public void OneClientWaitsForSeveralPeersAtOnceAndAFailedWaitNamesItsPeer()
    {
        Register(2, "alice");
        _directory.Received(2, new ConnectMessage("bob", 5000, AliceOffer), _now);
        _directory.Received(2, new ConnectMessage("carol", 3000, AliceOffer with { Ufrag = "a2" }), _now);
        _directory.Received(2, new ConnectMessage("dave", 3000, AliceOffer with { Ufrag = "a3" }), _now);
        Drain().ShouldNotContain(o => o.Message is ErrorMessage);
        Register(1, "bob", BobOffer);
        Register(3, "carol", BobOffer);
        List<RendezvousOutput> outputs = Drain();
        IntroduceMessage[] toAlice = outputs.Where(o => o.ConnectionId == 2).Select(o => o.Message).OfType<IntroduceMessage>().ToArray();
        toAlice.Select(i => i.Peer).ShouldBe(["bob", "carol"]);
        toAlice.Select(i => i.Session).Distinct().Count().ShouldBe(2);
        Single<IntroduceMessage>(outputs, 3).Offer.Ufrag.ShouldBe("a2");

        _now += TimeSpan.FromSeconds(3);
        _directory.Received(2, new PongMessage(0), _now);
        _directory.HandleTimeout(_now);
        ErrorMessage error = Single<ErrorMessage>(Drain(), 2);
        error.Peer.ShouldBe("dave");
        error.Code.ShouldBe(RendezvousErrorCodes.PeerUnknown);
    }

    [Fact]
    public void AListenerServesOnePeerPerOfferAndTheNextOnceItOffersAgain()
    {
        Register(1, "bob", BobOffer);
        Register(2, "alice");
        Register(3, "carol");
        Drain();
        _directory.Received(2, new ConnectMessage("bob", 5000, AliceOffer), _now);
        _directory.Received(3, new ConnectMessage("bob", 5000, AliceOffer with { Ufrag = "c" }), _now);
        List<RendezvousOutput> outputs = Drain();
        Single<IntroduceMessage>(outputs, 2);
        outputs.ShouldNotContain(o => o.ConnectionId == 3);
        var fresh = BobOffer with { Ufrag = "b2" };
        _directory.Received(1, new UpdateOfferMessage(fresh), _now);
        outputs = Drain();
        Single<IntroduceMessage>(outputs, 3).Offer.ShouldBe(fresh);
        Single<IntroduceMessage>(outputs, 1).Peer.ShouldBe("carol");
    }

    [Fact]
    public void SessionMessagesAreRelayedAndPeerLossIsReported()
    {
        Register(1, "bob", BobOffer);
        Register(2, "alice");
        _directory.Received(2, new ConnectMessage("bob", 0, AliceOffer), _now);
        string session = Single<IntroduceMessage>(Drain(), 2).Session;
        var extra = new CandidateInfo("srflx", "198.51.100.1:7000", 1, "3", "10.0.0.1:5000");
        _directory.Received(2, new CandidateMessage(session, extra), _now);
        Single<CandidateMessage>(Drain(), 1).Candidate.ShouldBe(extra);
        _directory.Disconnected(1, "connection reset", _now);
        _directory.IsRegistered("bob").ShouldBeFalse();
        // Bob may come back and resume the session: alice hears of his leaving only when he does not.
        Drain().ShouldNotContain(o => o.Message is PeerGoneMessage);
        for (int second = 0; second < RendezvousOptions.Default.ResumeWindow.TotalSeconds; second++)
        {
            _now += TimeSpan.FromSeconds(1);
            _directory.Received(2, new PongMessage(0), _now); // alice stays alive
            _directory.HandleTimeout(_now);
        }
        PeerGoneMessage gone = Single<PeerGoneMessage>(Drain(), 2);
        gone.Session.ShouldBe(session);
        gone.Peer.ShouldBe("bob");
        gone.Reason.ShouldStartWith("connection reset");
    }

    [Fact]
    public void SilentClientIsUnregisteredAfterDeadAfter()
    {
        Register(1, "bob", BobOffer);
        Drain();
        _now += RendezvousOptions.Default.DeadAfter;
        _directory.HandleTimeout(_now);
        Drain().ShouldContain(o => o.ConnectionId == 1 && o.Close);
        _directory.IsRegistered("bob").ShouldBeFalse();
    }

    [Fact]
    public void UnregisteredClientCannotConnect()
    {
        Open(1);
        _directory.Received(1, new ConnectMessage("bob", 0, AliceOffer), _now);
        Single<ErrorMessage>(Drain(), 1).Code.ShouldBe(RendezvousErrorCodes.NotRegistered);
    }
}
