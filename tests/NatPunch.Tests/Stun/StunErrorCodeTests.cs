using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>ERROR-CODE (RFC 8489 §14.8): class 3–6 in 3 bits, number 0–99, UTF-8 reason phrase.</summary>
public class StunErrorCodeTests
{
    private static (int Code, string Reason) RoundTrip(int code, string? reason = null)
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingError, (ref StunMessageBuilder b) => b.AddErrorCode(code, reason));
        RawStun.Parse(bytes).TryGetErrorCode(out int readCode, out string readReason).ShouldBeTrue();
        return (readCode, readReason);
    }

    [Theory]
    [InlineData(300, "Try Alternate")]
    [InlineData(400, "Bad Request")]
    [InlineData(401, "Unauthorized")]
    [InlineData(420, "Unknown Attribute")]
    [InlineData(438, "Stale Nonce")]
    [InlineData(487, "Role Conflict")]
    [InlineData(508, "Insufficient Capacity")]
    [InlineData(699, "Error")]
    public void CodeRoundTripsWithItsDefaultReason(int code, string reason)
    {
        RoundTrip(code).ShouldBe((code, reason));
    }

    [Fact]
    public void CodeIsWrittenAsClassAndNumber()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingError, (ref StunMessageBuilder b) => b.AddErrorCode(420, "x"));

        bytes[20..29].ShouldBe(new byte[] { 0x00, 0x09, 0x00, 0x05, 0x00, 0x00, 0x04, 20, (byte)'x' });
    }

    [Fact]
    public void ReasonIsUtf8()
    {
        RoundTrip(401, "Nicht autorisiert – Schlüssel ungültig 🔑").ShouldBe((401, "Nicht autorisiert – Schlüssel ungültig 🔑"));
    }

    [Theory]
    [InlineData(0, 0, "class 0")]
    [InlineData(1, 0, "class 1")]
    [InlineData(2, 0, "class 2 (2xx is not an error)")]
    [InlineData(7, 0, "class 7")]
    [InlineData(4, 100, "number 100")]
    [InlineData(4, 255, "number 255")]
    public void ValueOutsideClass3To6OrNumber0To99IsRejected(int @class, int number, string why)
    {
        byte[] value = [0, 0, (byte)@class, (byte)number, .. "Reason"u8];

        StunErrorCode.TryRead(value, out _, out _).ShouldBeFalse(why);
    }

    [Fact]
    public void ValueShorterThanFourBytesIsRejected()
    {
        StunErrorCode.TryRead([0, 0, 4], out _, out _).ShouldBeFalse();
    }

    [Fact]
    public void ReservedBitsAreIgnored()
    {
        StunErrorCode.TryRead([0xFF, 0xFF, 0xFC, 38], out int code, out string reason).ShouldBeTrue();

        code.ShouldBe(438);
        reason.ShouldBe("");
    }

    [Theory]
    [InlineData(200)]
    [InlineData(299)]
    [InlineData(700)]
    [InlineData(799)]
    [InlineData(1000)]
    [InlineData(-1)]
    public void WritingACodeOutside300To699Throws(int code)
    {
        Should.Throw<ArgumentOutOfRangeException>(() => StunErrorCode.Write(new byte[64], code, "Reason"));
        Should.Throw<ArgumentOutOfRangeException>(() => RawStun.Build(StunMessageType.BindingError, (ref StunMessageBuilder b) => b.AddErrorCode(code)));
    }

    [Fact]
    public void LongReasonIsCutToFewerThan128Characters()
    {
        (int _, string reason) = RoundTrip(500, new string('x', 200));

        reason.ShouldBe(new string('x', 127));
    }

    [Theory]
    [InlineData("x", 63)]  // the cut falls between two pairs
    [InlineData("xx", 62)] // the cut would fall inside a pair
    public void CuttingALongReasonNeverSplitsASurrogatePair(string prefix, int keysKept)
    {
        string keys = prefix + string.Concat(Enumerable.Repeat("🔑", 100));

        (int _, string reason) = RoundTrip(500, keys);

        reason.ShouldNotContain('\uFFFD');
        reason.ShouldBe(prefix + string.Concat(Enumerable.Repeat("🔑", keysKept)));
    }
}
