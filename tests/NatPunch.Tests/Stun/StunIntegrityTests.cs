using System.Buffers.Binary;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>
/// MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) and MESSAGE-INTEGRITY-SHA256 (§14.6): what they
/// cover, what may follow them, and that any change to what they cover is caught.
/// </summary>
public class StunIntegrityTests
{
    private static readonly byte[] Key = StunCredentials.ShortTermKey("VOkJxbRl1RmTxUk/WvJxBt");
    private static readonly byte[] OtherKey = StunCredentials.ShortTermKey("VOkJxbRl1RmTxUk/WvJxBu");

    private static byte[] SignedRequest(bool sha256) => RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
    {
        b.AddString(StunAttributeType.Username, "evtj:h6vY");
        b.AddUInt32(StunAttributeType.Priority, 0x6e0001ff);
        if (sha256)
        {
            b.AddMessageIntegritySha256(Key);
        }
        else
        {
            b.AddMessageIntegrity(Key);
        }
    });

    [Fact]
    public void MessageIntegrityVerifiesWithItsKeyOnly()
    {
        StunMessage message = RawStun.Parse(SignedRequest(sha256: false));

        message.IntegrityOffset.ShouldBe(20 + 16 + 8);
        message.VerifyMessageIntegrity(Key).ShouldBeTrue();
        message.VerifyMessageIntegrity(OtherKey).ShouldBeFalse();
        message.VerifyMessageIntegritySha256(Key).ShouldBeFalse("there is no MESSAGE-INTEGRITY-SHA256");
    }

    [Fact]
    public void MessageIntegritySha256RoundTripsWithItsFull32Bytes()
    {
        byte[] bytes = SignedRequest(sha256: true);
        StunMessage message = RawStun.Parse(bytes);

        message.IntegritySha256Offset.ShouldBe(20 + 16 + 8);
        BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(message.IntegritySha256Offset + 2)).ShouldBe((ushort)32);
        message.VerifyMessageIntegritySha256(Key).ShouldBeTrue();
        message.VerifyMessageIntegritySha256(OtherKey).ShouldBeFalse();
        message.VerifyMessageIntegrity(Key).ShouldBeFalse("there is no MESSAGE-INTEGRITY");
    }

    [Fact]
    public void MessageIntegritySha256VerifiesWithALongTermSha256Key()
    {
        byte[] key = StunCredentials.LongTermKey("user", "realm", "pass", PasswordAlgorithm.Sha256);
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddBytes(StunAttributeType.UserHash, StunCredentials.UserHash("user", "realm"));
            b.AddString(StunAttributeType.Realm, "realm");
            b.AddMessageIntegritySha256(key);
        });

        RawStun.Parse(bytes).VerifyMessageIntegritySha256(key).ShouldBeTrue();
        RawStun.Parse(bytes).VerifyMessageIntegritySha256(StunCredentials.LongTermKey("user", "realm", "pass")).ShouldBeFalse();
    }

    [Fact]
    public void TruncatedMessageIntegritySha256Verifies()
    {
        var buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, RawStun.Id);
        builder.AddString(StunAttributeType.Username, "evtj:h6vY");
        int offset = builder.Length;
        Span<byte> value = builder.AddAttribute(StunAttributeType.MessageIntegritySha256, 16);
        StunIntegrity.Compute(buffer, offset, 16, Key, sha256: true, value);
        StunMessage message = RawStun.Parse(builder.Written.ToArray());

        message.VerifyMessageIntegritySha256(Key).ShouldBeTrue();
        message.VerifyMessageIntegritySha256(OtherKey).ShouldBeFalse();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ChangingAnyCoveredByteIsDetected(bool sha256)
    {
        byte[] original = SignedRequest(sha256);
        int covered = original.Length; // the HMAC covers everything before it, and itself is checked
        for (int at = 0; at < covered; at++)
        {
            byte[] tampered = (byte[])original.Clone();
            tampered[at] ^= 0x01;
            bool verifies = StunMessage.TryParse(tampered, out StunMessage message, out _)
                            && (sha256 ? message.VerifyMessageIntegritySha256(Key) : message.VerifyMessageIntegrity(Key));
            verifies.ShouldBeFalse($"byte {at} changed and the integrity still verifies");
        }
    }

    [Fact]
    public void AttributesAfterMessageIntegrityAreIgnored()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddString(StunAttributeType.Software, "natpunch");
            b.AddMessageIntegrity(Key);
            b.AddBytes(0x7FFF, [1, 2, 3]);
            b.AddString(StunAttributeType.Username, "late");
        });
        StunMessage message = RawStun.Parse(bytes);

        RawStun.Types(message).ShouldBe([StunAttributeType.Software, StunAttributeType.MessageIntegrity]);
        message.TryGetString(StunAttributeType.Username, out _).ShouldBeFalse();
        message.GetUnknownComprehensionRequired(new ushort[4]).ShouldBe(0, "an unknown attribute after MESSAGE-INTEGRITY is no reason for a 420");
        message.VerifyMessageIntegrity(Key).ShouldBeTrue("the HMAC covers the message only up to MESSAGE-INTEGRITY");
    }

    [Fact]
    public void MessageIntegritySha256AndFingerprintAfterMessageIntegrityAreHonoured()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddString(StunAttributeType.Username, "evtj:h6vY");
            b.AddMessageIntegrity(Key);
            b.AddMessageIntegritySha256(Key);
            b.AddFingerprint();
        });
        StunMessage message = RawStun.Parse(bytes);

        RawStun.Types(message).ShouldBe([StunAttributeType.Username, StunAttributeType.MessageIntegrity,
            StunAttributeType.MessageIntegritySha256, StunAttributeType.Fingerprint]);
        message.VerifyMessageIntegrity(Key).ShouldBeTrue();
        message.VerifyMessageIntegritySha256(Key).ShouldBeTrue();
        message.VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void FingerprintAfterAnIgnoredAttributeIsHonoured()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddMessageIntegrity(Key);
            b.AddString(StunAttributeType.Software, "ignored");
            b.AddFingerprint();
        });
        StunMessage message = RawStun.Parse(bytes);

        RawStun.Types(message).ShouldBe([StunAttributeType.MessageIntegrity]);
        message.HasFingerprint.ShouldBeTrue();
        message.VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void MessageIntegrityAfterMessageIntegritySha256IsIgnored()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddMessageIntegritySha256(Key);
            b.AddMessageIntegrity(Key);
        });
        StunMessage message = RawStun.Parse(bytes);

        RawStun.Types(message).ShouldBe([StunAttributeType.MessageIntegritySha256]);
        message.IntegrityOffset.ShouldBe(-1);
        message.VerifyMessageIntegrity(Key).ShouldBeFalse();
        message.VerifyMessageIntegritySha256(Key).ShouldBeTrue();
    }

    [Fact]
    public void SecondMessageIntegrityIsIgnoredEvenWithAWrongLength()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddMessageIntegrity(Key);
            b.AddBytes(StunAttributeType.MessageIntegrity, [0, 0, 0, 0]);
        });
        StunMessage message = RawStun.Parse(bytes);

        message.IntegrityOffset.ShouldBe(20);
        message.VerifyMessageIntegrity(Key).ShouldBeTrue();
    }

    [Fact]
    public void MessageIntegrityValueDoesNotDependOnAFingerprintAfterIt()
    {
        byte[] without = SignedRequest(sha256: false);
        byte[] with = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddString(StunAttributeType.Username, "evtj:h6vY");
            b.AddUInt32(StunAttributeType.Priority, 0x6e0001ff);
            b.AddMessageIntegrity(Key);
            b.AddFingerprint();
        });

        // The length field differs (FINGERPRINT adds 8), the HMAC must not (RFC 8489 §14.5).
        with.AsSpan(20, without.Length - 20).ToArray().ShouldBe(without[20..]);
        RawStun.Parse(with).VerifyMessageIntegrity(Key).ShouldBeTrue();
    }
}
