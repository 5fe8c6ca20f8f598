using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Server.Rendezvous;

namespace NatPunch.Tests.Rendezvous;

/// <summary>Sessions resumed after a lost connection or a server restart (<see cref="RegisterMessage.Resume"/>).</summary>
public class RendezvousDirectoryResumeTests
{
    private const string SessionId = "00112233aabbccdd";
    private static readonly PeerOffer AliceOffer = new("aU", "aP", [new CandidateInfo("host", "10.0.0.1:5000", 2130706431, "1")]);
    private static readonly PeerOffer BobOffer = new("bU", "bP", [new CandidateInfo("host", "10.0.0.2:6000", 2130706431, "2")]);
    private static readonly CandidateInfo Relayed = new("relay", "203.0.113.1:50000", 16777215, "9", "10.0.0.1:5000");

    private readonly RendezvousDirectory _directory = new(RendezvousOptions.Default);
    private TimeSpan _now = TimeSpan.FromSeconds(100);

    [Fact]
    public void AfterAServerRestartBothEndsResumeTheSessionAndWhatWasSentMeanwhileArrives()
    {
        Register(1, "alice", new ResumeSession(SessionId, "bob"));
        Drain();
        // Bob is not back yet: alice's candidate waits for him instead of failing.
        _directory.Received(1, new CandidateMessage(SessionId, Relayed), _now);
        Drain().ShouldNotContain(o => o.Message is ErrorMessage);

        Register(2, "bob", new ResumeSession(SessionId, "alice"));
        List<RendezvousOutput> outputs = Drain();
        Single<RegisteredMessage>(outputs, 2);
        Single<CandidateMessage>(outputs, 2).Candidate.ShouldBe(Relayed);
        outputs.ShouldNotContain(o => o.Message is ErrorMessage);

        _directory.Received(2, new RestartMessage(SessionId, BobOffer, 3), _now);
        Single<RestartMessage>(Drain(), 1).Offer.ShouldBe(BobOffer);
    }

    [Fact]
    public void AnEndWhoseConnectionDroppedResumesWithoutItsPeerNoticing()
    {
        string session = Introduce();
        _directory.Disconnected(2, "connection reset", _now);
        _directory.Received(1, new CandidateMessage(session, Relayed), _now);
        Drain().ShouldNotContain(o => o.Message is ErrorMessage || o.Message is PeerGoneMessage);

        Register(3, "bob", new ResumeSession(session, "alice"));
        Single<CandidateMessage>(Drain(), 3).Candidate.ShouldBe(Relayed);
        _directory.Received(3, new CandidateMessage(session, Relayed), _now);
        Single<CandidateMessage>(Drain(), 1);
    }

    [Fact]
    public void AStrangerCannotTakeAnEndOfASession()
    {
        string session = Introduce();
        _directory.Disconnected(2, "connection reset", _now);
        // Knowing the session is not enough: the name must be the away end's and the peer the other end.
        Register(3, "mallory", new ResumeSession(session, "alice"));
        Register(4, "bob", new ResumeSession(session, "mallory"));
        List<RendezvousOutput> outputs = Drain();
        Single<ErrorMessage>(outputs, 3).Code.ShouldBe(RendezvousErrorCodes.PeerGone);
        Single<ErrorMessage>(outputs, 4).Code.ShouldBe(RendezvousErrorCodes.PeerGone);

        _directory.Received(1, new CandidateMessage(session, Relayed), _now);
        _directory.Received(3, new CandidateMessage(session, Relayed), _now);
        outputs = Drain();
        outputs.ShouldNotContain(o => o.ConnectionId == 4 || o.Message is CandidateMessage);
        Single<ErrorMessage>(outputs, 3).Code.ShouldBe(RendezvousErrorCodes.PeerGone);
    }

    [Fact]
    public void AnEndOfALiveSessionCannotBeTakenOver()
    {
        string session = Introduce();
        Register(3, "carol", new ResumeSession(session, "alice"));
        Single<ErrorMessage>(Drain(), 3).Code.ShouldBe(RendezvousErrorCodes.PeerGone);
        _directory.Received(1, new CandidateMessage(session, Relayed), _now);
        Single<CandidateMessage>(Drain(), 2);
    }

    [Fact]
    public void ResumingStillNeedsTheToken()
    {
        var directory = new RendezvousDirectory(RendezvousOptions.Default with { Token = "s3cret" });
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:1"), _now);
        directory.Received(1, new RegisterMessage("alice", "s3cret", null, null, null, new ResumeSession(SessionId, "bob")), _now);
        directory.Connected(2, IPEndPoint.Parse("192.0.2.9:2"), _now);
        directory.Received(2, new RegisterMessage("bob", "wrong", null, null, null, new ResumeSession(SessionId, "alice")), _now);
        directory.Received(1, new CandidateMessage(SessionId, Relayed), _now);
        var outputs = new List<RendezvousOutput>();
        while (directory.TryPollOutput(out RendezvousOutput output))
        {
            outputs.Add(output);
        }
        Single<ErrorMessage>(outputs, 2).Code.ShouldBe(RendezvousErrorCodes.Unauthorized);
        outputs.ShouldNotContain(o => o.Message is CandidateMessage);
    }

    [Fact]
    public void AnEndThatDoesNotComeBackInTimeIsReportedGone()
    {
        Register(1, "alice", new ResumeSession(SessionId, "bob"));
        Drain();
        KeepAliveFor(RendezvousOptions.Default.ResumeWindow, 1);
        PeerGoneMessage gone = Single<PeerGoneMessage>(Drain(), 1);
        gone.Session.ShouldBe(SessionId);
        gone.Peer.ShouldBe("bob");
        gone.Reason.ShouldContain("did not come back within 30 s");

        // Too late now: the session is over for both.
        Register(2, "bob", new ResumeSession(SessionId, "alice"));
        _directory.Received(1, new CandidateMessage(SessionId, Relayed), _now);
        Single<ErrorMessage>(Drain(), 1).Code.ShouldBe(RendezvousErrorCodes.PeerGone);
    }

    [Fact]
    public void AnOldStyleRegisterAfterALostConnectionIsNotInTheSession()
    {
        string session = Introduce();
        _directory.Disconnected(2, "connection reset", _now);
        Register(3, "bob", resume: null);
        Single<RegisteredMessage>(Drain(), 3);
        _directory.Received(3, new CandidateMessage(session, Relayed), _now);
        Single<ErrorMessage>(Drain(), 3).Code.ShouldBe(RendezvousErrorCodes.PeerGone);
    }

    [Fact]
    public void WhenBothEndsAreGoneTheSessionIsForgotten()
    {
        string session = Introduce();
        _directory.Disconnected(1, "connection reset", _now);
        _directory.Disconnected(2, "connection reset", _now);
        _directory.NextWakeUp.ShouldBeNull();
        // A fresh start for the same id, as after a server restart.
        Register(3, "alice", new ResumeSession(session, "bob"));
        Register(4, "bob", new ResumeSession(session, "alice"));
        Drain().ShouldNotContain(o => o.Message is ErrorMessage);
        _directory.Received(3, new CandidateMessage(session, Relayed), _now);
        Single<CandidateMessage>(Drain(), 4);
    }

    [Fact]
    public void ANodeInTwoSessionsResumesTheSecondWithAResumeMessage()
    {
        const string other = "ffeeddccbbaa9988";
        Register(1, "alice", new ResumeSession(SessionId, "bob"));
        _directory.Received(1, new ResumeMessage(other, "carol"), _now);
        Register(2, "bob", new ResumeSession(SessionId, "alice"));
        Register(3, "carol", new ResumeSession(other, "alice"));
        Drain().ShouldNotContain(o => o.Message is ErrorMessage);
        _directory.Received(3, new CandidateMessage(other, Relayed), _now);
        _directory.Received(2, new CandidateMessage(SessionId, Relayed), _now);
        List<RendezvousOutput> outputs = outputsOf(Drain(), 1);
        outputs.Select(o => ((CandidateMessage)o.Message!).Session).ShouldBe([other, SessionId]);

        static List<RendezvousOutput> outputsOf(List<RendezvousOutput> all, long connection) => all.Where(o => o.ConnectionId == connection).ToList();
    }

    [Fact]
    public void OnceAnEndToldItsResumeAnchorOnlyTheNextLinksOfItsChainResumeIt()
    {
        byte[] seed = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        string session = Introduce();
        _directory.Received(2, new ResumeKeyMessage(session, ResumeChain.Link(seed, ResumeChain.Length)), _now);
        // Someone else's anchor for bob's end, sent later by alice, changes nothing.
        _directory.Received(1, new ResumeKeyMessage(session, ResumeChain.Link(new byte[32], ResumeChain.Length)), _now);
        _directory.Disconnected(2, "connection reset", _now);
        Drain();

        // The name and the session id are no longer enough, nor a link that is not the next one.
        CannotResume(3, null, "no proof");
        CannotResume(4, ResumeChain.Link(new byte[32], ResumeChain.Length - 1), "another chain's link");
        CannotResume(5, ResumeChain.Link(seed, ResumeChain.Length), "the anchor itself is public");

        string first = ResumeChain.Link(seed, ResumeChain.Length - 1);
        Register(6, "bob", new ResumeSession(session, "alice", first));
        Drain().ShouldNotContain(o => o.Message is ErrorMessage);
        _directory.Received(1, new CandidateMessage(session, Relayed), _now);
        Single<CandidateMessage>(Drain(), 6);

        // A sniffed link is spent: replaying it does not take bob's place again.
        _directory.Disconnected(6, "connection reset", _now);
        CannotResume(7, first, "a spent link");
        // Resumes that never arrived are forgiven, up to MaxSkipped links.
        Register(8, "bob", new ResumeSession(session, "alice", ResumeChain.Link(seed, ResumeChain.Length - 2 - ResumeChain.MaxSkipped)));
        Drain().ShouldNotContain(o => o.Message is ErrorMessage);

        void CannotResume(long id, string? proof, string why)
        {
            Register(id, "bob", new ResumeSession(session, "alice", proof));
            Single<ErrorMessage>(Drain(), id).Code.ShouldBe(RendezvousErrorCodes.PeerGone, why);
            _directory.Disconnected(id, "gave up", _now);
        }
    }

    [Fact]
    public void ResumeLinksTooFarDownTheChainAreRefused()
    {
        byte[] seed = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        string anchor = ResumeChain.Link(seed, 100);
        ResumeChain.Verifies(ResumeChain.Link(seed, 99), anchor).ShouldBeTrue();
        ResumeChain.Verifies(ResumeChain.Link(seed, 99 - ResumeChain.MaxSkipped), anchor).ShouldBeTrue();
        ResumeChain.Verifies(ResumeChain.Link(seed, 98 - ResumeChain.MaxSkipped), anchor).ShouldBeFalse();
        ResumeChain.Verifies(anchor, anchor).ShouldBeFalse();
        ResumeChain.Verifies("garbage", anchor).ShouldBeFalse();
        ResumeChain.Verifies(ResumeChain.Link(seed, 99), "garbage").ShouldBeFalse();
        ResumeChain.IsWellFormed(anchor).ShouldBeTrue();
        ResumeChain.IsWellFormed(new string('A', 10_000)).ShouldBeFalse("the server keeps no large string as an anchor");
        ResumeChain.IsWellFormed(null).ShouldBeFalse();
    }

    [Fact]
    public void AResumeBeforeRegisteringIsRefused()
    {
        _directory.Connected(1, IPEndPoint.Parse("192.0.2.9:40001"), _now);
        _directory.Received(1, new ResumeMessage(SessionId, "bob"), _now);
        Single<ErrorMessage>(Drain(), 1).Code.ShouldBe(RendezvousErrorCodes.NotRegistered);
    }

    private string Introduce()
    {
        Register(2, "bob", resume: null, BobOffer);
        Register(1, "alice", resume: null);
        _directory.Received(1, new ConnectMessage("bob", 0, AliceOffer), _now);
        return Single<IntroduceMessage>(Drain(), 1).Session;
    }

    private void Register(long id, string name, ResumeSession? resume, PeerOffer? offer = null)
    {
        _directory.Connected(id, IPEndPoint.Parse($"192.0.2.9:{40000 + id}"), _now);
        _directory.Received(id, new RegisterMessage(name, null, offer, null, "test", resume), _now);
    }

    private void KeepAliveFor(TimeSpan duration, params long[] alive)
    {
        for (TimeSpan end = _now + duration; _now < end;)
        {
            _now += TimeSpan.FromSeconds(1);
            foreach (long id in alive)
            {
                _directory.Received(id, new PongMessage(0), _now);
            }
            _directory.HandleTimeout(_now);
        }
    }

    private List<RendezvousOutput> Drain() => DirectoryOutputs.Drain(_directory);

    private static T Single<T>(List<RendezvousOutput> outputs, long connection) where T : RendezvousMessage =>
        DirectoryOutputs.Single<T>(outputs, connection);
}
