using System.Buffers.Binary;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>FINGERPRINT (RFC 8489 §14.7): CRC-32 of the message before it, XOR 0x5354554E, and it must be last.</summary>
public class StunFingerprintTests
{
    private static byte[] FingerprintedRequest() => RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
    {
        b.AddString(StunAttributeType.Software, "natpunch");
        b.AddUInt64(StunAttributeType.IceControlling, 0x932ff9b151263b36);
        b.AddFingerprint();
    });

    [Fact]
    public void FingerprintIsCrc32OfTheMessageBeforeItXorStun()
    {
        byte[] bytes = FingerprintedRequest();
        int at = bytes.Length - 8;

        BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at)).ShouldBe(StunAttributeType.Fingerprint);
        BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 4))
            .ShouldBe(StunInvariants.ReferenceCrc32(bytes.AsSpan(0, at)) ^ 0x5354554Eu);
        RawStun.Parse(bytes).VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void ChangingAnyByteIsDetected()
    {
        byte[] original = FingerprintedRequest();
        for (int at = 0; at < original.Length; at++)
        {
            byte[] tampered = (byte[])original.Clone();
            tampered[at] ^= 0x20;
            bool verifies = StunMessage.TryParse(tampered, out StunMessage message, out _) && message.VerifyFingerprint();
            verifies.ShouldBeFalse($"byte {at} changed and FINGERPRINT still verifies");
        }
    }

    [Fact]
    public void MessageWithoutFingerprintDoesNotVerify()
    {
        StunMessage message = RawStun.Parse(Rfc5769Vectors.LongTermRequest);

        message.HasFingerprint.ShouldBeFalse();
        message.FingerprintOffset.ShouldBe(-1);
        message.VerifyFingerprint().ShouldBeFalse();
    }

    [Fact]
    public void FingerprintComputedAheadOfTimeCountsItselfInTheLength()
    {
        byte[] bytes = FingerprintedRequest();
        int at = bytes.Length - 8;
        byte[] before = bytes[..at];
        BinaryPrimitives.WriteUInt16BigEndian(before.AsSpan(2), (ushort)(at - 20)); // as it was before FINGERPRINT went in

        StunFingerprint.Compute(before, bytes.Length).ShouldBe(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 4)));
    }
}
