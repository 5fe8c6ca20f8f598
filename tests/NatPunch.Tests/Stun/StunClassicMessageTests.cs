using System.Buffers.Binary;
using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>
/// RFC 3489 messages: no magic cookie, a 128-bit transaction id from byte 4. They parse, and
/// NatPunch can answer them (RFC 8489 §12 backwards compatibility).
/// </summary>
public class StunClassicMessageTests
{
    private static readonly byte[] ClassicRequest = Hex.Parse("""
        0001 0008 5a1c0b7e 01020304 05060708 090a0b0c
        0003 0004 00000006
        """);

    [Fact]
    public void Rfc3489RequestWithoutCookieParses()
    {
        StunMessage message = RawStun.Parse(ClassicRequest);

        message.HasMagicCookie.ShouldBeFalse();
        message.ClassicCookie.ShouldBe(0x5a1c0b7eu);
        message.TransactionId.ShouldBe(new TransactionId(0x0102030405060708, 0x090a0b0c));
        message.Type.ShouldBe(StunMessageType.BindingRequest);
        message.TryGetUInt32(StunAttributeType.ChangeRequest, out uint flags).ShouldBeTrue();
        ((ChangeRequestFlags)flags).ShouldBe(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort);
    }

    [Fact]
    public void AnswerToAnRfc3489ClientEchoesThe128BitIdAndUsesMappedAddress()
    {
        StunMessage request = RawStun.Parse(ClassicRequest);
        var buffer = new byte[128];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess.Value, request.ClassicCookie, request.TransactionId);
        builder.AddAddress(StunAttributeType.MappedAddress, IPEndPoint.Parse("198.51.100.7:40000"));
        builder.AddAddress(StunAttributeType.SourceAddress, IPEndPoint.Parse("203.0.113.1:3478"));
        builder.AddAddress(StunAttributeType.ChangedAddress, IPEndPoint.Parse("203.0.113.2:3479"));
        byte[] bytes = builder.Written.ToArray();

        bytes.AsSpan(4, 16).ToArray().ShouldBe(ClassicRequest.AsSpan(4, 16).ToArray());
        StunMessage response = RawStun.Parse(bytes);
        response.HasMagicCookie.ShouldBeFalse();
        response.TryGetMappedAddress(out IPEndPoint mapped).ShouldBeTrue();
        mapped.ShouldBe(IPEndPoint.Parse("198.51.100.7:40000"));
        response.TryGetAddress(StunAttributeType.ChangedAddress, out IPEndPoint changed).ShouldBeTrue();
        changed.ShouldBe(IPEndPoint.Parse("203.0.113.2:3479"));
    }

    [Fact]
    public void MessageWithTheCookieHasIt()
    {
        StunMessage message = RawStun.Parse(Rfc5769Vectors.Request);

        message.HasMagicCookie.ShouldBeTrue();
        BinaryPrimitives.ReadUInt32BigEndian(Rfc5769Vectors.Request.AsSpan(4)).ShouldBe(StunConstants.MagicCookie);
    }
}
