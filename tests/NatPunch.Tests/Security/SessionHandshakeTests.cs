using NatPunch.Security;
using NatPunch.Security.Internal;
using NSec.Cryptography;

namespace NatPunch.Tests.Security;

/// <summary>The handshake core between two in-memory ends on a fake clock: patterns, fallback, pinning, loss and forgeries.</summary>
public sealed class SessionHandshakeTests
{
    private static readonly byte[] Prologue = SessionPrologue.Build("s1", "iu", "ip", "ru", "rp");

    private sealed class Pair : IDisposable
    {
        public readonly PeerIdentity InitiatorIdentity = PeerIdentity.Generate();
        public readonly PeerIdentity ResponderIdentity = PeerIdentity.Generate();
        public SessionHandshake Initiator = null!;
        public SessionHandshake Responder = null!;
        public TimeSpan Now;
        public int Sent;

        public Pair Start(Func<Pair, PeerKey?> expected, Func<PeerKey, string?>? authorizeResponder = null, byte[]? responderPrologue = null,
            PeerIdentity? responderIdentity = null, SessionHandshakeOptions? initiatorOptions = null, SessionHandshakeOptions? responderOptions = null)
        {
            Initiator = new SessionHandshake(true, InitiatorIdentity, expected(this), Prologue, _ => null, Now, initiatorOptions);
            Responder = new SessionHandshake(false, responderIdentity ?? ResponderIdentity, null, responderPrologue ?? Prologue, authorizeResponder ?? (_ => null), Now, responderOptions);
            return this;
        }

        /// <summary>Moves everything both ends want sent, dropping what <paramref name="drop"/> says, until both are quiet; then advances time to the next wake-up.</summary>
        public void Run(Func<int, bool>? drop = null, int maxSteps = 200, Func<byte[], byte[]>? tamperToResponder = null)
        {
            for (int step = 0; step < maxSteps && (Initiator.Outcome is null || Responder.Outcome is null); step++)
            {
                bool moved = Move(Initiator, Responder, drop, tamperToResponder) | Move(Responder, Initiator, drop, null);
                if (!moved)
                {
                    TimeSpan? wake = Earliest(Initiator.NextWakeUp, Responder.NextWakeUp);
                    if (wake is null)
                    {
                        return;
                    }
                    Now = wake.Value > Now ? wake.Value : Now;
                    Initiator.HandleTimeout(Now);
                    Responder.HandleTimeout(Now);
                }
            }
        }

        private bool Move(SessionHandshake from, SessionHandshake to, Func<int, bool>? drop, Func<byte[], byte[]>? tamper)
        {
            bool moved = false;
            while (from.TryPollFrame(out byte[] frame))
            {
                moved = true;
                if (drop?.Invoke(Sent++) != true)
                {
                    to.HandleFrame(tamper is null ? frame : tamper(frame), Now);
                }
            }
            while (from.TryPollSealed(out SessionMessageType type, out byte[] body))
            {
                moved = true;
                byte[] sealedFrame = new byte[body.Length + SealedFrame.Overhead];
                int length = from.Crypto!.Seal(type, body, sealedFrame, Now);
                if (drop?.Invoke(Sent++) != true && to.Crypto is { } crypto)
                {
                    byte[] opened = new byte[length];
                    if (crypto.TryOpen(sealedFrame.AsSpan(0, length), opened, out SessionMessageType openedType, out int bodyLength))
                    {
                        to.HandleVerdict(openedType, opened.AsSpan(1, bodyLength));
                    }
                }
            }
            return moved;
        }

        private static TimeSpan? Earliest(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : a < b ? a : b;

        public void Dispose()
        {
            Initiator.Dispose();
            Responder.Dispose();
            InitiatorIdentity.Dispose();
            ResponderIdentity.Dispose();
        }
    }

    [Fact]
    public void XxWithoutAKnownKeyProvesBothKeys()
    {
        using Pair pair = new Pair().Start(_ => null);
        pair.Run();
        var initiator = pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
        var responder = pair.Responder.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
        initiator.Pattern.ShouldBe("XX");
        initiator.PeerKey.ShouldBe(pair.ResponderIdentity.PublicKey);
        responder.PeerKey.ShouldBe(pair.InitiatorIdentity.PublicKey);
    }

    [Fact]
    public void IkWhenTheResponderKeyIsKnown()
    {
        using Pair pair = new Pair().Start(p => p.ResponderIdentity.PublicKey);
        pair.Run();
        pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Established>().Pattern.ShouldBe("IK");
        pair.Responder.Outcome.ShouldBeOfType<HandshakeOutcome.Established>().PeerKey.ShouldBe(pair.InitiatorIdentity.PublicKey);
    }

    private static readonly SessionHandshakeOptions NoAesGcm = SessionHandshakeOptions.Default with
    {
        Crypto = SessionCryptoOptions.Default with { OfferAesGcm = false },
    };

    [Theory]
    [InlineData(true, true, true)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, false)]
    public void TheTransportIsAesGcmWhenBothOfferItAndChaChaOtherwiseInBothPatterns(bool initiatorOffers, bool responderOffers, bool aes)
    {
        foreach (bool ik in new[] { true, false })
        {
            using Pair pair = new Pair().Start(p => ik ? p.ResponderIdentity.PublicKey : null,
                initiatorOptions: initiatorOffers ? null : NoAesGcm, responderOptions: responderOffers ? null : NoAesGcm);
            pair.Run();
            pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Established>().Pattern.ShouldBe(ik ? "IK" : "XX");
            pair.Responder.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
            TransportCipher expected = aes && Aes256Gcm.IsSupported ? TransportCipher.Aes256Gcm : TransportCipher.ChaCha20Poly1305;
            pair.Initiator.Crypto!.Cipher.ShouldBe(expected);
            pair.Responder.Crypto!.Cipher.ShouldBe(expected);

            // Each side opens what the other sealed.
            byte[] sealedFrame = new byte[100 + SealedFrame.Overhead], opened = new byte[sealedFrame.Length];
            int length = pair.Initiator.Crypto.Seal(SessionMessageType.Segment, new byte[100], sealedFrame, pair.Now);
            pair.Responder.Crypto.TryOpen(sealedFrame.AsSpan(0, length), opened, out SessionMessageType type, out int bodyLength).ShouldBeTrue();
            (type, bodyLength).ShouldBe((SessionMessageType.Segment, 100));
        }
    }

    [Fact]
    public void APayloadFromAnOlderPeerOrWithFieldsFromANewerOneIsRead()
    {
        HandshakePayload.ReadsOfferOfAesGcm([]).ShouldBeFalse();                // versions before the payload send none
        HandshakePayload.ReadsOfferOfAesGcm([0x00]).ShouldBeFalse();
        HandshakePayload.ReadsOfferOfAesGcm(HandshakePayload.Write(offerAesGcm: true)).ShouldBeTrue();
        HandshakePayload.ReadsOfferOfAesGcm([0x81, 0xff, 0x42]).ShouldBeTrue(); // flags and fields not known here are ignored
    }

    [Fact]
    public void AnotherResponderKeyThanThePinnedOneFailsNamingBothKeys()
    {
        using var impostor = PeerIdentity.Generate();
        using Pair pair = new Pair().Start(p => p.ResponderIdentity.PublicKey, responderIdentity: impostor);
        pair.Run();
        var failed = pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Failed>();
        failed.KeyRefused.ShouldBeTrue();
        failed.Reason.ShouldContain(impostor.PublicKey.ToString());
        failed.Reason.ShouldContain(pair.ResponderIdentity.PublicKey.ToString());
        pair.Initiator.Crypto.ShouldBeNull(); // nothing of the impostor's is ever opened
    }

    [Fact]
    public void AResponderThatRefusesTheKeyTellsTheInitiatorAuthenticated()
    {
        using Pair pair = new Pair().Start(_ => null, authorizeResponder: key => $"key {key} not allowed");
        pair.Run();
        pair.Responder.Outcome.ShouldBeOfType<HandshakeOutcome.Failed>().Reason.ShouldContain(pair.InitiatorIdentity.PublicKey.ToString());
        var failed = pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Failed>();
        failed.KeyRefused.ShouldBeTrue();
        failed.Reason.ShouldContain("refused our key");
    }

    [Fact]
    public void DifferentProloguesNeverEstablish()
    {
        using Pair pair = new Pair().Start(_ => null, responderPrologue: SessionPrologue.Build("s1", "iu", "ip", "ru", "swapped"));
        pair.Run(maxSteps: 2000);
        pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Failed>().Reason.ShouldContain("no handshake");
        pair.Responder.Outcome.ShouldNotBeOfType<HandshakeOutcome.Established>();
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(false, 2)]
    [InlineData(false, 3)]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    [InlineData(true, 3)]
    public void ThirtyPercentLossEitherWayStillEstablishes(bool ik, int seed)
    {
        using Pair pair = new Pair().Start(p => ik ? p.ResponderIdentity.PublicKey : null);
        var random = new Random(seed);
        pair.Run(drop: _ => random.NextDouble() < 0.3);
        pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
        pair.Responder.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
    }

    [Fact]
    public void FlippedBitsInEveryHandshakeMessageAreDroppedAndTheRetransmissionSucceeds()
    {
        using Pair pair = new Pair().Start(_ => null);
        int tampered = 0;
        pair.Run(tamperToResponder: frame =>
        {
            if (tampered++ % 2 == 1)
            {
                return frame;
            }
            byte[] copy = frame.ToArray();
            copy[^1] ^= 0x40;
            return copy;
        });
        pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
        pair.Responder.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
        pair.Responder.Dropped.ShouldBeGreaterThan(0);
    }

    [Fact]
    public void GarbageAndTruncatedFramesChangeNothing()
    {
        using Pair pair = new Pair().Start(_ => null);
        foreach (byte[] junk in new[] { new byte[] { 0xE2 }, new byte[] { 0xE2, 1 }, new byte[] { 0xE2, 3, 1, 2 }, new byte[] { 0xE2, 9, 0, 0 }, new byte[] { 0xE2, 2 } })
        {
            pair.Responder.HandleFrame(junk, pair.Now);
            pair.Initiator.HandleFrame(junk, pair.Now);
        }
        pair.Run();
        pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
        pair.Responder.Outcome.ShouldBeOfType<HandshakeOutcome.Established>();
    }

    [Fact]
    public void NoAnswerFailsAtTheTimeout()
    {
        using Pair pair = new Pair().Start(_ => null);
        pair.Run(drop: _ => true, maxSteps: 5000);
        pair.Initiator.Outcome.ShouldBeOfType<HandshakeOutcome.Failed>().KeyRefused.ShouldBeFalse();
        pair.Now.ShouldBe(SessionHandshakeOptions.Default.Timeout);
    }
}
