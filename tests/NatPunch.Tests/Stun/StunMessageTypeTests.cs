using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>The 14-bit type field: method bits M0–M11 interleaved with class bits C0, C1 (RFC 8489 §5).</summary>
public class StunMessageTypeTests
{
    [Theory]
    [InlineData(StunMethod.Binding, StunClass.Request, 0x0001)]
    [InlineData(StunMethod.Binding, StunClass.Indication, 0x0011)]
    [InlineData(StunMethod.Binding, StunClass.SuccessResponse, 0x0101)]
    [InlineData(StunMethod.Binding, StunClass.ErrorResponse, 0x0111)]
    [InlineData(StunMethod.Allocate, StunClass.Request, 0x0003)]
    [InlineData(StunMethod.Allocate, StunClass.SuccessResponse, 0x0103)]
    [InlineData(StunMethod.Allocate, StunClass.ErrorResponse, 0x0113)]
    [InlineData(StunMethod.Refresh, StunClass.Request, 0x0004)]
    [InlineData(StunMethod.Refresh, StunClass.SuccessResponse, 0x0104)]
    [InlineData(StunMethod.Send, StunClass.Indication, 0x0016)]
    [InlineData(StunMethod.Data, StunClass.Indication, 0x0017)]
    [InlineData(StunMethod.CreatePermission, StunClass.Request, 0x0008)]
    [InlineData(StunMethod.CreatePermission, StunClass.SuccessResponse, 0x0108)]
    [InlineData(StunMethod.ChannelBind, StunClass.Request, 0x0009)]
    [InlineData(StunMethod.ChannelBind, StunClass.SuccessResponse, 0x0109)]
    [InlineData(StunMethod.ChannelBind, StunClass.ErrorResponse, 0x0119)]
    [InlineData(StunMethod.Connect, StunClass.Request, 0x000A)]
    [InlineData(StunMethod.ConnectionBind, StunClass.Request, 0x000B)]
    [InlineData(StunMethod.ConnectionAttempt, StunClass.Indication, 0x001C)]
    public void TypeHasTheWireValueOfRfc8489AndRfc8656(StunMethod method, StunClass @class, int wire)
    {
        var type = new StunMessageType(method, @class);

        type.Value.ShouldBe((ushort)wire);
        StunMessageType.FromValue((ushort)wire).ShouldBe(type);
    }

    [Fact]
    public void ClassBitsSitAtBits4And8()
    {
        new StunMessageType(0, StunClass.Indication).Value.ShouldBe((ushort)0x0010);
        new StunMessageType(0, StunClass.SuccessResponse).Value.ShouldBe((ushort)0x0100);
        new StunMessageType(0, StunClass.ErrorResponse).Value.ShouldBe((ushort)0x0110);
    }

    [Fact]
    public void HighestMethodFillsEveryMethodBitAndNoClassBit()
    {
        new StunMessageType((StunMethod)0xFFF, StunClass.Request).Value.ShouldBe((ushort)0x3EEF);
    }

    [Fact]
    public void EveryMethodAndClassSurvivesTheWireAndTheTopBitsStayZero()
    {
        var seen = new HashSet<ushort>();
        for (int method = 0; method <= 0xFFF; method++)
        {
            foreach (StunClass @class in Enum.GetValues<StunClass>())
            {
                var type = new StunMessageType((StunMethod)method, @class);
                ushort value = type.Value;
                (value & 0xC000).ShouldBe(0);
                StunMessageType.FromValue(value).ShouldBe(type);
                seen.Add(value);
            }
        }
        seen.Count.ShouldBe(0x4000, "the encoding is one-to-one onto the 14 bits");
    }

    [Fact]
    public void ResponsesKeepTheRequestMethod()
    {
        var allocate = new StunMessageType(StunMethod.Allocate, StunClass.Request);

        allocate.ToSuccess().Value.ShouldBe((ushort)0x0103);
        allocate.ToError().Value.ShouldBe((ushort)0x0113);
    }

    [Fact]
    public void ParsedMessageReportsItsTypeFromTheHeader()
    {
        byte[] bytes = RawStun.Build(new StunMessageType(StunMethod.ChannelBind, StunClass.ErrorResponse), (ref StunMessageBuilder b) => { });

        bytes[..2].ShouldBe(new byte[] { 0x01, 0x19 });
        StunMessage message = RawStun.Parse(bytes);
        message.RawType.ShouldBe((ushort)0x0119);
        message.Type.ShouldBe(new StunMessageType(StunMethod.ChannelBind, StunClass.ErrorResponse));
    }
}
