using NatPunch.Security;
using NatPunch.Security.Internal;

namespace NatPunch.Tests.Security;

/// <summary>Sealing and opening on a fake clock: forgeries, replays, the replay window's edges, rekeying, nonce limits.</summary>
public sealed class SessionCryptoTests
{
    private static (SessionCrypto A, SessionCrypto B) NewPair(SessionCryptoOptions? options = null)
    {
        byte[] k1 = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        byte[] k2 = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        using var key = PeerIdentity.Generate();
        return (new SessionCrypto(k1.ToArray(), k2.ToArray(), key.PublicKey, TimeSpan.Zero, options),
                new SessionCrypto(k2, k1, key.PublicKey, TimeSpan.Zero, options));
    }

    private static byte[] Seal(SessionCrypto crypto, string text, TimeSpan now = default)
    {
        byte[] body = System.Text.Encoding.UTF8.GetBytes(text);
        byte[] frame = new byte[body.Length + SealedFrame.Overhead];
        int length = crypto.Seal(SessionMessageType.Segment, body, frame, now);
        return frame[..length];
    }

    private static string? Open(SessionCrypto crypto, byte[] frame)
    {
        byte[] destination = new byte[frame.Length];
        return crypto.TryOpen(frame, destination, out SessionMessageType type, out int length) && type == SessionMessageType.Segment
            ? System.Text.Encoding.UTF8.GetString(destination, 1, length) : null;
    }

    [Fact]
    public void WhatOneSideSealsTheOtherOpensAndNoPlaintextIsOnTheWire()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair();
        byte[] frame = Seal(a, "attack at dawn");
        frame[0].ShouldBe(SealedFrame.Marker);
        System.Text.Encoding.UTF8.GetString(frame).ShouldNotContain("attack");
        Open(b, frame).ShouldBe("attack at dawn");
        Open(a, frame).ShouldBeNull(); // a direction's key does not open the other direction
    }

    [Fact]
    public void FlippedBitsTruncationAndReplaysAreRefusedAndCounted()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair();
        byte[] frame = Seal(a, "hello");
        for (int i = 0; i < frame.Length; i++)
        {
            byte[] flipped = frame.ToArray();
            flipped[i] ^= 0x01;
            Open(b, flipped).ShouldBeNull($"bit flipped in byte {i}");
        }
        Open(b, frame[..^1]).ShouldBeNull();
        Open(b, frame[..5]).ShouldBeNull();
        Open(b, frame).ShouldBe("hello");
        Open(b, frame).ShouldBeNull(); // replay
        b.Refused.ShouldBe(frame.Length + 3);
    }

    [Fact]
    public void ReorderingWithinTheWindowIsAcceptedOnceAndOlderIsRefused()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair();
        byte[][] frames = Enumerable.Range(0, ReplayWindow.Size + 10).Select(i => Seal(a, $"m{i}")).ToArray();
        Open(b, frames[^1]).ShouldBe($"m{frames.Length - 1}");
        // The oldest counter still inside the window is highest - (Size - 1).
        int oldestInside = frames.Length - 1 - (ReplayWindow.Size - 1);
        Open(b, frames[oldestInside]).ShouldBe($"m{oldestInside}");
        Open(b, frames[oldestInside - 1]).ShouldBeNull();
        Open(b, frames[oldestInside]).ShouldBeNull();
        Open(b, frames[^5]).ShouldBe($"m{frames.Length - 5}");
    }

    [Fact]
    public void ReplayWindowEdgesAcrossBlockBoundaries()
    {
        var window = new ReplayWindow();
        window.Accept(0).ShouldBeTrue();
        window.Accept(0).ShouldBeFalse();
        window.Accept(63).ShouldBeTrue();
        window.Accept(64).ShouldBeTrue();
        window.CanAccept(1).ShouldBeTrue();
        window.Accept(10_000).ShouldBeTrue();
        window.CanAccept(64).ShouldBeFalse(); // far behind
        window.CanAccept(10_000 - ReplayWindow.Size + 1).ShouldBeTrue();
        window.CanAccept(10_000 - ReplayWindow.Size).ShouldBeFalse();
        // A jump by more than the whole ring clears it: nothing old is remembered as seen.
        window.Accept(10_000 + 5000).ShouldBeTrue();
        window.CanAccept(10_000 + 4999).ShouldBeTrue();
        window.Accept(10_000 + 4999).ShouldBeTrue();
        window.Accept(10_000 + 4999).ShouldBeFalse();
    }

    [Fact]
    public void RekeyByCountMovesBothSidesWithNoLossAndInFlightDatagramsOfTheOldKeyStillOpen()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair(SessionCryptoOptions.Default with { RekeyAfterMessages = 4 });
        var frames = Enumerable.Range(0, 40).Select(i => Seal(a, $"m{i}")).ToList();
        a.SendEpoch.ShouldBe((byte)9);
        // Delivered one epoch late, in pairs swapped across each epoch boundary.
        for (int i = 0; i + 1 < frames.Count; i += 2)
        {
            Open(b, frames[i + 1]).ShouldBe($"m{i + 1}");
            Open(b, frames[i]).ShouldBe($"m{i}");
        }
        b.Refused.ShouldBe(0);
    }

    [Fact]
    public void RekeyByTimeAndTheEpochBeforeLastIsForgotten()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair(SessionCryptoOptions.Default with { RekeyAfter = TimeSpan.FromSeconds(10) });
        byte[] epoch0 = Seal(a, "zero", TimeSpan.FromSeconds(1));
        byte[] epoch1 = Seal(a, "one", TimeSpan.FromSeconds(11));
        byte[] epoch2 = Seal(a, "two", TimeSpan.FromSeconds(21));
        a.SendEpoch.ShouldBe((byte)2);
        Open(b, epoch1).ShouldBe("one");
        Open(b, epoch2).ShouldBe("two");
        Open(b, epoch0).ShouldBeNull(); // two epochs back: its key is gone
    }

    [Fact]
    public void AnEpochTwoAheadIsRefused()
    {
        (SessionCrypto a, SessionCrypto b) = NewPair(SessionCryptoOptions.Default with { RekeyAfterMessages = 1 });
        Seal(a, "0");
        Seal(a, "1");
        byte[] two = Seal(a, "2");
        Open(b, two).ShouldBeNull();
    }

    [Fact]
    public void TheReservedNonceIsNeverUsed()
    {
        byte[] key = new byte[32];
        using var cipher = new NoiseTransportCipher(key);
        Should.Throw<System.Security.Cryptography.CryptographicException>(() => cipher.Seal(ulong.MaxValue, [], [1], new byte[32]));
        cipher.TryOpen(ulong.MaxValue, [], new byte[17], new byte[17], out _).ShouldBeFalse();
        // A sender never reaches it: it rekeys after RekeyAfterMessages, far below 2^64 - 1.
        SessionCryptoOptions.Default.RekeyAfterMessages.ShouldBeLessThan(ulong.MaxValue / 2);
    }
}
