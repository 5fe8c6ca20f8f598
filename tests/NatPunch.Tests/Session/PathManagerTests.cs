using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Security;
using NatPunch.Session;
using NatPunch.Traversal;

namespace NatPunch.Tests.Session;

/// <summary>The path-management core on a fake clock: the first attempt and every restart go through the same rounds.</summary>
public class PathManagerTests
{
    private const string SessionId = "0011223344556677";
    private static readonly PeerOffer TheirOffer = new("tU", "tPassword0000000000000000", [new CandidateInfo("host", "10.0.0.2:6000", 2130706431, "1")]);
    private static readonly PeerOffer OurOffer = new("oU", "oPassword0000000000000000", [new CandidateInfo("host", "10.0.0.1:5000", 2130706431, "1")]);
    private static readonly Candidate Local = new(CandidateType.Host, IPEndPoint.Parse("10.0.0.1:5000"), 2130706431, "1");
    private static readonly Candidate Remote = new(CandidateType.Host, IPEndPoint.Parse("10.0.0.2:6000"), 2130706431, "1");
    private static readonly PeerKey Key = PeerIdentity.Generate().PublicKey;

    private readonly PathManager _paths = new(SessionId, "bob", TimeSpan.FromSeconds(30), TimeSpan.Zero);
    private TimeSpan _now;

    private List<PathAction> Actions()
    {
        var actions = new List<PathAction>();
        while (_paths.TryPollAction(out PathAction action))
        {
            actions.Add(action);
        }
        return actions;
    }

    private List<PathEvent> Events()
    {
        var events = new List<PathEvent>();
        while (_paths.TryPollEvent(out PathEvent e))
        {
            events.Add(e);
        }
        return events;
    }

    private static IceEvent.Selected Selected(Candidate? remote = null) => new(Local, remote ?? Remote, TimeSpan.FromMilliseconds(10));

    /// <summary>Introduced, selected, handshake done: an established session at <see cref="_now"/>.</summary>
    private void Establish()
    {
        _paths.Start(TheirOffer, TimeSpan.FromMilliseconds(40), [], _now);
        _paths.HandleIceEvent(Selected(), _now);
        _paths.HandleHandshake(new HandshakeOutcome.Established(Key, "IK"), _now);
        Actions();
        Events();
    }

    [Fact]
    public void TheFirstAttemptAppliesTheIntroductionThenTheFirstSelectionStartsTheHandshakeAndOnlyItsSuccessConnects()
    {
        var relayed = new Candidate(CandidateType.Relayed, IPEndPoint.Parse("203.0.113.1:50000"), 16777215, "r", Local.EndPoint);
        _paths.Start(TheirOffer, TimeSpan.FromMilliseconds(40), [relayed], _now);
        List<PathAction> actions = Actions();
        actions[0].ShouldBe(new PathAction.ApplyOffer(TheirOffer, TimeSpan.FromMilliseconds(40)));
        actions[1].ShouldBeOfType<PathAction.Send>().Message.ShouldBeOfType<CandidateMessage>().Candidate.Type.ShouldBe("relay");

        _now = TimeSpan.FromSeconds(1);
        _paths.HandleIceEvent(Selected(), _now);
        Actions().ShouldHaveSingleItem().ShouldBeOfType<PathAction.StartHandshake>();
        _paths.HandleIceEvent(Selected(), _now);
        Actions().ShouldBeEmpty("one handshake per session");
        Events().ShouldBeEmpty("not connected before the key is proven");

        _now = TimeSpan.FromSeconds(1.2);
        _paths.HandleHandshake(new HandshakeOutcome.Established(Key, "IK"), _now);
        PathEvent.Connected connected = Events().ShouldHaveSingleItem().ShouldBeOfType<PathEvent.Connected>();
        connected.First.ShouldBeTrue();
        connected.PeerKey.ShouldBe(Key);
        connected.Took.ShouldBe(TimeSpan.FromSeconds(1.2));
        _paths.Established.ShouldBeTrue();
        _paths.NextWakeUp.ShouldBeNull("nothing to wait for on a working path");
    }

    [Fact]
    public void TheFirstAttemptFailsAtItsTimeLimitOrWhenChecksFailOrTheHandshakeIsRefused()
    {
        _paths.Start(TheirOffer, TimeSpan.Zero, [], _now);
        _paths.NextWakeUp.ShouldBe(TimeSpan.FromSeconds(30));
        _paths.HandleTimeout(TimeSpan.FromSeconds(29));
        Events().ShouldBeEmpty();
        _paths.HandleTimeout(TimeSpan.FromSeconds(30));
        PathEvent.Failed failed = Events().ShouldHaveSingleItem().ShouldBeOfType<PathEvent.Failed>();
        failed.Failure.ShouldBe(PathFailure.Timeout);
        failed.Reason.ShouldContain("within 30 s");
        _paths.Over.ShouldBeTrue();

        var checksFail = new PathManager(SessionId, "bob", TimeSpan.FromSeconds(30), TimeSpan.Zero);
        checksFail.HandleIceEvent(new IceEvent.Failed("every pair failed"), _now);
        checksFail.TryPollEvent(out PathEvent e).ShouldBeTrue();
        e.ShouldBeOfType<PathEvent.Failed>().Failure.ShouldBe(PathFailure.NoPath);

        var refused = new PathManager(SessionId, "bob", TimeSpan.FromSeconds(30), TimeSpan.Zero);
        refused.HandleIceEvent(Selected(), _now);
        refused.HandleHandshake(new HandshakeOutcome.Failed("bob proved key X, not the pinned Y", KeyRefused: true), _now);
        refused.TryPollEvent(out e).ShouldBeTrue();
        e.ShouldBe(new PathEvent.Failed(PathFailure.KeyRefused, "bob proved key X, not the pinned Y"));
    }

    [Fact]
    public void APeerThatLeavesDuringTheIntroductionEndsTheAttemptAndARestartBeforeKeysIsIgnored()
    {
        _paths.Start(TheirOffer, TimeSpan.Zero, [], _now);
        Actions();
        _paths.HandleSignal(new RestartMessage(SessionId, TheirOffer, 5), _now);
        Actions().ShouldBeEmpty();
        _paths.HandleSignal(new PeerGoneMessage(SessionId, "bob", "connection reset"), _now);
        PathEvent.Failed failed = Events().ShouldHaveSingleItem().ShouldBeOfType<PathEvent.Failed>();
        failed.Failure.ShouldBe(PathFailure.PeerLeft);
        failed.Reason.ShouldContain("left during the introduction");
    }

    [Fact]
    public void ALostPathStartsARoundThatGathersOffersChecksAndSelectsLikeTheFirst()
    {
        Establish();
        _now = TimeSpan.FromSeconds(20);
        _paths.HandleIceEvent(new IceEvent.ConsentLost(Remote.EndPoint, TimeSpan.FromSeconds(15)), _now);
        Events().ShouldHaveSingleItem().ShouldBeOfType<PathEvent.Lost>().Reason.ShouldContain("re-establishing");
        Actions().ShouldHaveSingleItem().ShouldBeOfType<PathAction.NewAgent>();
        _paths.Round.ShouldBe(1);

        // The new agent's gathering: a reflexive candidate before the offer is in the offer, not trickled.
        _paths.HandleIceEvent(new IceEvent.CandidateGathered(Remote with { Type = CandidateType.ServerReflexive }), _now);
        Actions().ShouldBeEmpty();
        _paths.HandleIceEvent(new IceEvent.GatheringComplete(2), _now);
        Actions().ShouldHaveSingleItem().ShouldBe(new PathAction.MakeOffer(1));
        _paths.HandleOurOffer(1, OurOffer, _now);
        Actions().ShouldHaveSingleItem().ShouldBeOfType<PathAction.Send>().Message.ShouldBe(new RestartMessage(SessionId, OurOffer, 1));

        // Unanswered: sent again every 3 s.
        _paths.NextWakeUp.ShouldBe(_now + PathManager.RestartResend);
        _now += PathManager.RestartResend;
        _paths.HandleTimeout(_now);
        Actions().ShouldHaveSingleItem().ShouldBeOfType<PathAction.Send>();

        _paths.HandleSignal(new RestartMessage(SessionId, TheirOffer, 1), _now);
        Actions().ShouldHaveSingleItem().ShouldBe(new PathAction.ApplyOffer(TheirOffer, _now));
        _paths.NextWakeUp.ShouldBeNull();
        _now += TimeSpan.FromSeconds(1);
        var newRemote = Remote with { EndPoint = IPEndPoint.Parse("198.51.100.2:7000") };
        _paths.HandleIceEvent(Selected(newRemote), _now);
        PathEvent.Connected connected = Events().ShouldHaveSingleItem().ShouldBeOfType<PathEvent.Connected>();
        connected.First.ShouldBeFalse();
        connected.Selection.Remote.ShouldBe(newRemote);
        connected.Took.ShouldBe(TimeSpan.FromSeconds(4));
        Actions().ShouldBeEmpty("no second handshake: the keys survive the restart");
    }

    [Fact]
    public void CrossingRestartsMeetInOneRoundAndStaleOnesChangeNothing()
    {
        Establish();
        // The peer noticed first: its round 1 arrives while our path still looks fine; we join it.
        _paths.HandleSignal(new RestartMessage(SessionId, TheirOffer, 1), _now);
        Events().ShouldHaveSingleItem().ShouldBe(new PathEvent.Lost("the peer is re-establishing the path"));
        Actions().ShouldHaveSingleItem().ShouldBeOfType<PathAction.NewAgent>();
        // Our own consent loss for the same dead path comes next: already in that round.
        _paths.HandleIceEvent(new IceEvent.ConsentLost(Remote.EndPoint, TimeSpan.FromSeconds(15)), _now);
        Actions().ShouldBeEmpty();
        _paths.HandleIceEvent(new IceEvent.GatheringComplete(1), _now);
        Actions().ShouldHaveSingleItem().ShouldBe(new PathAction.MakeOffer(1));
        _paths.HandleOurOffer(1, OurOffer, _now);
        List<PathAction> actions = Actions();
        actions.Count.ShouldBe(2);
        actions[0].ShouldBeOfType<PathAction.Send>();
        actions[1].ShouldBe(new PathAction.ApplyOffer(TheirOffer, _now), "both offers known: checks start");
        // A resend of the same round changes nothing.
        _paths.HandleSignal(new RestartMessage(SessionId, TheirOffer, 1), _now);
        Actions().ShouldBeEmpty();
        // An offer made for a round that was overtaken is dropped.
        _paths.HandleSignal(new RestartMessage(SessionId, TheirOffer, 3), _now);
        Actions().ShouldHaveSingleItem().ShouldBeOfType<PathAction.NewAgent>();
        _paths.HandleOurOffer(1, OurOffer, _now);
        Actions().ShouldBeEmpty();
        _paths.Round.ShouldBe(3);
        _paths.HandleSignal(new RestartMessage(SessionId, TheirOffer, 2), _now);
        Actions().ShouldBeEmpty("a lower round is stale");
        Events().ShouldBeEmpty();
    }

    [Fact]
    public void FailedChecksInARoundStartTheNextRound()
    {
        Establish();
        _paths.HandleIceEvent(new IceEvent.PathLost(Remote.EndPoint, "the relay under it was lost"), _now);
        Actions();
        _paths.HandleIceEvent(new IceEvent.Failed("from the replaced agent"), _now);
        Actions().ShouldBeEmpty("checks of this round have not started");
        _paths.HandleIceEvent(new IceEvent.GatheringComplete(1), _now);
        _paths.HandleOurOffer(1, OurOffer, _now);
        _paths.HandleSignal(new RestartMessage(SessionId, TheirOffer, 1), _now);
        Actions();
        _paths.HandleIceEvent(new IceEvent.Failed("every pair failed"), _now);
        Actions().ShouldHaveSingleItem().ShouldBeOfType<PathAction.NewAgent>();
        _paths.Round.ShouldBe(2);
    }

    [Fact]
    public void APeerThatLeftEndsTheSessionOnlyWhenThePathFails()
    {
        Establish();
        _paths.HandleSignal(new PeerGoneMessage(SessionId, "bob", "connection reset, and it did not come back within 30 s"), _now);
        Events().ShouldBeEmpty("the path still works: data goes on");
        _paths.HandleIceEvent(new IceEvent.ConsentLost(Remote.EndPoint, TimeSpan.FromSeconds(15)), _now);
        PathEvent.Ended ended = Events().ShouldHaveSingleItem().ShouldBeOfType<PathEvent.Ended>();
        ended.Reason.ShouldContain("left the rendezvous");
        Actions().ShouldBeEmpty("nobody would answer a restart");
        _paths.Over.ShouldBeTrue();
    }

    [Fact]
    public void APeerThatLeavesDuringARoundEndsTheSessionAtOnceUnlessItRestartsAgain()
    {
        Establish();
        _paths.HandleSignal(new PeerGoneMessage(SessionId, "bob", "gone"), _now);
        _paths.HandleSignal(new RestartMessage(SessionId, TheirOffer, 1), _now); // it is evidently back
        Events().ShouldHaveSingleItem().ShouldBeOfType<PathEvent.Lost>();
        _paths.HandleSignal(new ErrorMessage(RendezvousErrorCodes.PeerGone, "that session has ended", SessionId), _now);
        Events().ShouldHaveSingleItem().ShouldBeOfType<PathEvent.Ended>().Reason.ShouldContain("no longer knows this session");
    }
}
