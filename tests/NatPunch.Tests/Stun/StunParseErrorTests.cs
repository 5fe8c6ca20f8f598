using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>Each way bytes can fail to be a STUN message, and the byte offset the error points at.</summary>
public class StunParseErrorTests
{
    private static StunParseError ErrorOf(byte[] bytes)
    {
        StunMessage.TryParse(bytes, out _, out StunParseError error).ShouldBeFalse();
        return error;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(19)]
    public void FewerThanTwentyBytesAreTooShortAtTheirLength(int length)
    {
        ErrorOf(new byte[length]).ShouldBe(new StunParseError(StunParseErrorKind.TooShort, length));
    }

    [Fact]
    public void TooShortIsReportedBeforeTheTopBitsAreLookedAt()
    {
        ErrorOf(Enumerable.Repeat((byte)0xFF, 19).ToArray()).Kind.ShouldBe(StunParseErrorKind.TooShort);
    }

    [Theory]
    [InlineData(0x40)] // ChannelData
    [InlineData(0x80)] // RTP, RTCP
    [InlineData(0xC0)]
    public void SetTopBitsAreNotStunAtByteZero(byte first)
    {
        byte[] bytes = RawStun.Message(0x0001);
        bytes[0] |= first;

        ErrorOf(bytes).ShouldBe(new StunParseError(StunParseErrorKind.NotStun, 0));
    }

    [Fact]
    public void LengthThatIsNotAMultipleOfFourIsReportedAtTheLengthField()
    {
        byte[] bytes = [.. RawStun.Message(0x0001, lengthField: 2), 0, 0];

        ErrorOf(bytes).ShouldBe(new StunParseError(StunParseErrorKind.LengthNotMultipleOfFour, 2));
    }

    [Theory]
    [InlineData(4, 0)]
    [InlineData(0, 4)]
    [InlineData(0xFFFC, 8)]
    public void LengthThatDisagreesWithTheBytesIsAMismatchAtTheLengthField(int lengthField, int bodyBytes)
    {
        byte[] bytes = [.. RawStun.Message(0x0001, lengthField: lengthField), .. new byte[bodyBytes]];

        ErrorOf(bytes).ShouldBe(new StunParseError(StunParseErrorKind.LengthMismatch, 2));
    }

    [Fact]
    public void AttributeLongerThanTheMessageIsTruncatedAtItsHeader()
    {
        byte[] priority = RawStun.Attribute(StunAttributeType.Priority, [0, 0, 0, 1]);
        byte[] username = [0x00, 0x06, 0x00, 0x0C, .. "abcdefgh"u8]; // claims 12 bytes, holds 8

        ErrorOf(RawStun.Message(0x0001, priority, username)).ShouldBe(new StunParseError(StunParseErrorKind.AttributeTruncated, 28));
    }

    [Fact]
    public void AttributeClaiming65535BytesInASmallMessageIsTruncated()
    {
        byte[] software = [0x80, 0x22, 0xFF, 0xFF, .. "abcd"u8];

        ErrorOf(RawStun.Message(0x0001, software)).ShouldBe(new StunParseError(StunParseErrorKind.AttributeTruncated, 20));
    }

    [Fact]
    public void FingerprintFollowedByAnythingIsNotLastAtTheFingerprint()
    {
        byte[] bytes = RawStun.Message(0x0001,
            RawStun.Attribute(StunAttributeType.Software, "abcd"u8),
            RawStun.Attribute(StunAttributeType.Fingerprint, [0, 0, 0, 0]),
            RawStun.Attribute(StunAttributeType.Username, "user"u8));

        ErrorOf(bytes).ShouldBe(new StunParseError(StunParseErrorKind.FingerprintNotLast, 28));
    }

    [Theory]
    [InlineData(StunAttributeType.MessageIntegrity, 16)]
    [InlineData(StunAttributeType.MessageIntegrity, 32)]
    [InlineData(StunAttributeType.MessageIntegritySha256, 12)]
    [InlineData(StunAttributeType.MessageIntegritySha256, 18)]
    [InlineData(StunAttributeType.MessageIntegritySha256, 36)]
    [InlineData(StunAttributeType.Fingerprint, 0)]
    [InlineData(StunAttributeType.Fingerprint, 8)]
    public void IntegrityOrFingerprintOfTheWrongLengthIsReportedAtTheAttribute(ushort type, int length)
    {
        byte[] bytes = RawStun.Message(0x0001,
            RawStun.Attribute(StunAttributeType.Priority, [0, 0, 0, 1]),
            RawStun.Attribute(type, new byte[length]));

        ErrorOf(bytes).ShouldBe(new StunParseError(StunParseErrorKind.BadAttributeLength, 28));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(20)]
    [InlineData(28)]
    [InlineData(32)]
    public void MessageIntegritySha256MayBeTruncatedToAMultipleOfFourFrom16To32(int length)
    {
        byte[] bytes = RawStun.Message(0x0001, RawStun.Attribute(StunAttributeType.MessageIntegritySha256, new byte[length]));

        RawStun.Parse(bytes).IntegritySha256Offset.ShouldBe(20);
    }

    [Fact]
    public void FailedParseLeavesAnEmptyMessageWithNothingToVerify()
    {
        // The bytes hold a FINGERPRINT and a MESSAGE-INTEGRITY, but the length field is wrong.
        byte[] bytes = RawStun.Message(0x0001, lengthField: 0,
            RawStun.Attribute(StunAttributeType.MessageIntegrity, new byte[20]),
            RawStun.Attribute(StunAttributeType.Fingerprint, new byte[4]));

        StunMessage.TryParse(bytes, out StunMessage message, out _).ShouldBeFalse();

        message.Buffer.IsEmpty.ShouldBeTrue();
        message.HasFingerprint.ShouldBeFalse();
        message.IntegrityOffset.ShouldBe(-1);
        message.IntegritySha256Offset.ShouldBe(-1);
        message.FingerprintOffset.ShouldBe(-1);
        message.VerifyFingerprint().ShouldBeFalse();
        message.VerifyMessageIntegrity("key"u8).ShouldBeFalse();
        message.VerifyMessageIntegritySha256("key"u8).ShouldBeFalse();
        message.HasAttribute(StunAttributeType.MessageIntegrity).ShouldBeFalse();
    }

    [Fact]
    public void ValidMessageHasNoError()
    {
        StunMessage.TryParse(Rfc5769Vectors.Request, out _, out StunParseError error).ShouldBeTrue();

        error.ShouldBe(StunParseError.None);
    }

    [Fact]
    public void ErrorSaysWhatAndWhere()
    {
        new StunParseError(StunParseErrorKind.LengthMismatch, 2).ToString().ShouldBe("LengthMismatch at byte 2");
    }
}
