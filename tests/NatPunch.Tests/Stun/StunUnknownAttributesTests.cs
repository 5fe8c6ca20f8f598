using System.Buffers.Binary;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>
/// Comprehension-required attributes this agent does not know (RFC 8489 §6.3.1.1, §14) and
/// UNKNOWN-ATTRIBUTES (§14.9), which a 420 response lists them in.
/// </summary>
public class StunUnknownAttributesTests
{
    [Fact]
    public void UnknownComprehensionRequiredIsFoundAndUnknownOptionalIsNot()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddString(StunAttributeType.Username, "user");
            b.AddBytes(0x7FFF, [1, 2]);
            b.AddBytes(0x8123, [3]);
        });
        var unknown = new ushort[4];

        int count = RawStun.Parse(bytes).GetUnknownComprehensionRequired(unknown);

        unknown[..count].ShouldBe(new ushort[] { 0x7FFF });
    }

    [Fact]
    public void AllUnknownAttributesAreCountedEvenIfTheDestinationIsSmaller()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
        {
            b.AddEmpty(0x0040);
            b.AddEmpty(0x0041);
            b.AddEmpty(0x7FFF);
        });
        var unknown = new ushort[2];

        RawStun.Parse(bytes).GetUnknownComprehensionRequired(unknown).ShouldBe(3);
        unknown.ShouldBe(new ushort[] { 0x0040, 0x0041 });
    }

    [Fact]
    public void EveryComprehensionRequiredAttributeNatPunchKnowsIsUnderstood()
    {
        ushort[] known =
        [
            StunAttributeType.MappedAddress, StunAttributeType.ResponseAddress, StunAttributeType.ChangeRequest,
            StunAttributeType.SourceAddress, StunAttributeType.ChangedAddress, StunAttributeType.Username,
            StunAttributeType.MessageIntegrity, StunAttributeType.ErrorCode, StunAttributeType.UnknownAttributes,
            StunAttributeType.Realm, StunAttributeType.Nonce, StunAttributeType.MessageIntegritySha256,
            StunAttributeType.PasswordAlgorithm, StunAttributeType.UserHash, StunAttributeType.XorMappedAddress,
            StunAttributeType.ChannelNumber, StunAttributeType.Lifetime, StunAttributeType.XorPeerAddress,
            StunAttributeType.Data, StunAttributeType.XorRelayedAddress, StunAttributeType.RequestedAddressFamily,
            StunAttributeType.EvenPort, StunAttributeType.RequestedTransport, StunAttributeType.DontFragment,
            StunAttributeType.ReservationToken, StunAttributeType.ConnectionId, StunAttributeType.Padding,
            StunAttributeType.ResponsePort, StunAttributeType.Priority, StunAttributeType.UseCandidate,
        ];

        known.ShouldAllBe(type => StunAttributeType.IsComprehensionRequired(type) && StunAttributeType.IsUnderstood(type));
        StunAttributeType.IsUnderstood(0x0000).ShouldBeFalse("0x0000 is reserved");
        StunAttributeType.IsUnderstood(0x7FFF).ShouldBeFalse();
    }

    [Theory]
    [InlineData(0x7FFF, true)]
    [InlineData(0x8000, false)]
    [InlineData(0x8123, false)]
    [InlineData(0xFFFF, false)]
    [InlineData(0x0000, true)]
    public void TypesBelow0x8000AreComprehensionRequired(int type, bool required)
    {
        StunAttributeType.IsComprehensionRequired((ushort)type).ShouldBe(required);
    }

    [Fact]
    public void UnknownAttributesListsTypesAsBigEndianWordsPaddedToFourBytes()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingError, (ref StunMessageBuilder b) =>
        {
            b.AddErrorCode(StunErrorCode.UnknownAttribute);
            b.AddUnknownAttributes([0x7FFF, 0x0040, 0x0041]);
            b.AddUInt32(StunAttributeType.Lifetime, 600);
        });
        StunMessage message = RawStun.Parse(bytes);

        message.TryGetAttribute(StunAttributeType.UnknownAttributes, out ReadOnlySpan<byte> value).ShouldBeTrue();
        value.ToArray().ShouldBe(new byte[] { 0x7F, 0xFF, 0x00, 0x40, 0x00, 0x41 });
        int lifetimeAt = bytes.Length - 8; // LIFETIME is the last 8 bytes; the 2 before it pad the 6-byte list
        bytes[(lifetimeAt - 2)..lifetimeAt].ShouldBe(new byte[] { 0, 0 });
        message.TryGetUInt32(StunAttributeType.Lifetime, out uint lifetime).ShouldBeTrue();
        lifetime.ShouldBe(600u);
        message.TryGetErrorCode(out int code, out _).ShouldBeTrue();
        code.ShouldBe(420);
    }

    [Fact]
    public void UnknownAttributesMayBeEmpty()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingError, (ref StunMessageBuilder b) => b.AddUnknownAttributes([]));

        RawStun.Parse(bytes).TryGetAttribute(StunAttributeType.UnknownAttributes, out ReadOnlySpan<byte> value).ShouldBeTrue();
        value.Length.ShouldBe(0);
        BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(2)).ShouldBe((ushort)4);
    }
}
