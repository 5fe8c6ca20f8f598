using System.Security.Cryptography;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Rendezvous;
using NatPunch.Security;
using NatPunch.Session;
using NatPunch.Tests.Session;

namespace NatPunch.Tests.Security;

/// <summary>Restarts and candidates through the rendezvous, sealed once the session has keys.</summary>
public class SignalCryptoTests
{
    private const string Session = "0011223344556677";

    private static (SessionCrypto A, SessionCrypto B) NewPair()
    {
        byte[] k1 = RandomNumberGenerator.GetBytes(32), k2 = RandomNumberGenerator.GetBytes(32);
        using PeerIdentity key = PeerIdentity.Generate();
        return (new SessionCrypto(k1.ToArray(), k2.ToArray(), key.PublicKey, TimeSpan.Zero),
                new SessionCrypto(k2, k1, key.PublicKey, TimeSpan.Zero));
    }

    [Fact]
    public void ABoxOpensOnceForItsSessionAndNeverAgain()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair();
        string first = a.Signals.Seal("one"u8, Session);
        string second = a.Signals.Seal("two"u8, Session);

        b.Signals.TryOpen(first, Session, out byte[] opened).ShouldBeTrue();
        opened.ShouldBe("one"u8.ToArray());
        b.Signals.TryOpen(first, Session, out _).ShouldBeFalse("a replay");
        b.Signals.TryOpen(second, Session, out opened).ShouldBeTrue();
        opened.ShouldBe("two"u8.ToArray());
        b.Signals.TryOpen(first, Session, out _).ShouldBeFalse("older than the last opened");
        b.Signals.Refused.ShouldBe(2);
    }

    [Fact]
    public void ABoxForAnotherSessionAFlippedBitOrGarbageIsRefused()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair();
        string box = a.Signals.Seal("restart"u8, Session);
        b.Signals.TryOpen(box, "ffffffffffffffff", out _).ShouldBeFalse();
        char[] flipped = box.ToCharArray();
        flipped[^3] = flipped[^3] == 'A' ? 'B' : 'A';
        b.Signals.TryOpen(new string(flipped), Session, out _).ShouldBeFalse();
        b.Signals.TryOpen("not base64url!", Session, out _).ShouldBeFalse();
        b.Signals.TryOpen("", Session, out _).ShouldBeFalse();
        b.Signals.TryOpen(box[..10], Session, out _).ShouldBeFalse();
        a.Signals.TryOpen(box, Session, out _).ShouldBeFalse("our own box does not open with the receive key");
        b.Signals.Refused.ShouldBe(5);
        b.Signals.TryOpen(box, Session, out byte[] opened).ShouldBeTrue("the refusals changed no state");
        opened.ShouldBe("restart"u8.ToArray());
    }

    [Fact]
    public void TheSignalKeysStayWhenTheDatagramKeysRekey()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair();
        Span<byte> frame = stackalloc byte[64];
        // Far past the rekey interval: the datagram cipher moves to its next epoch.
        a.Seal(SessionMessageType.Segment, "x"u8, frame, TimeSpan.FromHours(1));
        a.SendEpoch.ShouldBe((byte)1);
        b.Signals.TryOpen(a.Signals.Seal("late"u8, Session), Session, out byte[] opened).ShouldBeTrue();
        opened.ShouldBe("late"u8.ToArray());
    }

    [Fact]
    public async Task OnceThereAreKeysOnlySealedRestartsAndCandidatesAreBelieved()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair();
        var rendezvous = new InMemorySignaling();
        var ours = new SessionSignals(rendezvous, Session, () => b.Signals);
        var offer = new PeerOffer("u", "p", []);
        var restart = new RestartMessage(Session, offer, 2);

        ours.Open(restart).ShouldBeNull("plain, though the session has keys: not the peer");
        var sealedByPeer = new SealedSignalMessage(Session, a.Signals.Seal(RendezvousCodec.EncodeJson(restart), Session));
        RestartMessage opened = ours.Open(sealedByPeer).ShouldBeOfType<RestartMessage>();
        (opened.Session, opened.Round, opened.Offer.Ufrag).ShouldBe((Session, 2, "u"));
        ours.Open(sealedByPeer).ShouldBeNull("a replay");
        var otherSession = new SealedSignalMessage(Session, a.Signals.Seal(RendezvousCodec.EncodeJson(restart with { Session = "other" }), Session));
        ours.Open(otherSession).ShouldBeNull("sealed by the peer, but about another session");
        var gone = new PeerGoneMessage(Session, "bob", "left");
        ours.Open(gone).ShouldBe(gone, "what the server itself says passes");
        ours.Refused.ShouldBe(3);

        // Around the handshake the peer may have no keys yet: plain candidates are welcome for a grace, restarts never.
        bool welcome = true;
        var aroundTheHandshake = new SessionSignals(rendezvous, Session, () => b.Signals, () => welcome);
        var candidate = new CandidateMessage(Session, new CandidateInfo("relay", "203.0.113.1:50000", 5, "r"));
        aroundTheHandshake.Open(candidate).ShouldBe(candidate);
        aroundTheHandshake.Open(restart).ShouldBeNull();
        welcome = false;
        aroundTheHandshake.Open(candidate).ShouldBeNull();

        var beforeKeys = new SessionSignals(rendezvous, Session, () => null);
        beforeKeys.Open(restart).ShouldBe(restart);
        beforeKeys.Open(sealedByPeer).ShouldBeNull();

        // What we send goes sealed once there are keys, plain before.
        await ours.SendAsync(restart, plain: false, TestContext.Current.CancellationToken);
        await beforeKeys.SendAsync(restart, plain: false, TestContext.Current.CancellationToken);
        await ours.SendAsync(candidate, plain: true, TestContext.Current.CancellationToken);
        SealedSignalMessage box = rendezvous.Sent[0].ShouldBeOfType<SealedSignalMessage>();
        a.Signals.TryOpen(box.Box, Session, out byte[] json).ShouldBeTrue();
        RendezvousCodec.TryDecode(json, out RendezvousMessage sent, out _).ShouldBeTrue();
        sent.ShouldBeOfType<RestartMessage>().Round.ShouldBe(2);
        rendezvous.Sent[1].ShouldBe(restart);
        rendezvous.Sent[2].ShouldBe(candidate, "a candidate during the grace goes plain");
    }
}
