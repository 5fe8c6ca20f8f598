using NatPunch.Session;

namespace NatPunch.Tests.Session;

/// <summary>Stream ids and the limits each side announces (QUIC's MAX_STREAMS), as a core.</summary>
public class StreamDirectoryTests
{
    [Fact]
    public void TheInitiatorOpensEvenIdsAndTheResponderOddOnesOnlyWithinThePeersLimit()
    {
        var initiator = new StreamDirectory(initiator: true, maxConcurrentIncoming: 8);
        var responder = new StreamDirectory(initiator: false, maxConcurrentIncoming: 8);
        initiator.TryOpen(out _).ShouldBeFalse(); // nothing before the peer's first announcement
        initiator.Blocked.ShouldBeTrue();

        initiator.RaisePeerLimit(responder.IncomingLimit).ShouldBeTrue();
        responder.RaisePeerLimit(initiator.IncomingLimit).ShouldBeTrue();
        var ids = new List<uint>();
        while (initiator.TryOpen(out uint id))
        {
            ids.Add(id);
        }
        ids.ShouldBe([2u, 4, 6, 8, 10, 12, 14, 16]);
        responder.TryOpen(out uint first).ShouldBeTrue();
        first.ShouldBe(1u);
        responder.TryOpen(out uint second).ShouldBeTrue();
        second.ShouldBe(3u);
    }

    [Fact]
    public void APeerStreamArrivesOnceAndItsIdIsNeverNewAgain()
    {
        var directory = new StreamDirectory(initiator: true, maxConcurrentIncoming: 4);
        directory.Arrive(3).ShouldBe(StreamArrival.New); // out of order: index 1 before index 0
        directory.Arrive(1).ShouldBe(StreamArrival.New);
        directory.Arrive(1).ShouldBe(StreamArrival.Stale);
        directory.Arrive(3).ShouldBe(StreamArrival.Stale);
        directory.Arrive(5).ShouldBe(StreamArrival.New);
        directory.Arrive(StreamDirectory.DefaultStream).ShouldBe(StreamArrival.New); // the mux tracks the default stream itself
    }

    [Fact]
    public void APeerThatIgnoresTheLimitOrUsesOurIdsIsRefused()
    {
        var directory = new StreamDirectory(initiator: true, maxConcurrentIncoming: 2);
        directory.Arrive(1).ShouldBe(StreamArrival.New);
        directory.Arrive(3).ShouldBe(StreamArrival.New);
        directory.Arrive(5).ShouldBe(StreamArrival.Violation); // a third at once
        directory.Arrive(2).ShouldBe(StreamArrival.Violation); // ours, never opened
        directory.RaisePeerLimit(1);
        directory.TryOpen(out uint ours).ShouldBeTrue();
        directory.Arrive(ours).ShouldBe(StreamArrival.Stale); // ours, opened and since forgotten by the mux
    }

    [Fact]
    public void EachClosedPeerStreamLetsThePeerOpenOneMore()
    {
        var directory = new StreamDirectory(initiator: false, maxConcurrentIncoming: 2);
        directory.IncomingLimit.ShouldBe(2u);
        directory.Arrive(2).ShouldBe(StreamArrival.New);
        directory.Arrive(4).ShouldBe(StreamArrival.New);
        directory.Arrive(6).ShouldBe(StreamArrival.Violation);
        directory.RemoteStreamClosed().ShouldBe(3u);
        directory.Arrive(6).ShouldBe(StreamArrival.New);
        directory.IsRemote(6).ShouldBeTrue();
        directory.IsRemote(5).ShouldBeFalse();
        directory.IsRemote(StreamDirectory.DefaultStream).ShouldBeFalse();
    }

    [Fact]
    public void OldOrRepeatedAnnouncementsNeverLowerTheLimit()
    {
        var directory = new StreamDirectory(initiator: true, maxConcurrentIncoming: 2);
        directory.RaisePeerLimit(5).ShouldBeTrue();
        directory.RaisePeerLimit(3).ShouldBeFalse(); // reordered: an older count
        directory.RaisePeerLimit(5).ShouldBeFalse();
        directory.PeerLimit.ShouldBe(5u);
        directory.RaisePeerLimit(uint.MaxValue).ShouldBeTrue();
        directory.PeerLimit.ShouldBe(StreamDirectory.MaxIndex);
    }
}
