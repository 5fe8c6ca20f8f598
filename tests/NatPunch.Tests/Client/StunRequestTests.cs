using System.Buffers.Binary;
using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.Tests.Client;

public class StunRequestTests
{
    private static readonly IPEndPoint Server = IPEndPoint.Parse("192.0.2.10:3478");

    [Fact]
    public void PlainBindingRequestHasOnlyAFingerprint()
    {
        TransactionId id = TransactionId.NewRandom();

        byte[] bytes = new StunRequest(Server).Encode(id);

        StunMessage.TryParse(bytes, out StunMessage message, out StunParseError error).ShouldBeTrue(error.ToString());
        message.Type.ShouldBe(StunMessageType.BindingRequest);
        message.TransactionId.ShouldBe(id);
        message.HasMagicCookie.ShouldBeTrue();
        message.VerifyFingerprint().ShouldBeTrue();
        message.HasAttribute(StunAttributeType.ChangeRequest).ShouldBeFalse();
        bytes.Length.ShouldBe(StunConstants.HeaderLength + 8);
    }

    [Fact]
    public void Rfc5780AttributesAreEncoded()
    {
        TransactionId id = TransactionId.NewRandom();
        var request = new StunRequest(Server)
        {
            ChangeRequest = ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort,
            ResponsePort = 40123,
            Software = "natpunch tests",
        };

        byte[] bytes = request.Encode(id);

        StunMessage.TryParse(bytes, out StunMessage message, out _).ShouldBeTrue();
        message.TryGetUInt32(StunAttributeType.ChangeRequest, out uint flags).ShouldBeTrue();
        flags.ShouldBe(0x6u);
        message.TryGetAttribute(StunAttributeType.ResponsePort, out ReadOnlySpan<byte> port).ShouldBeTrue();
        port.Length.ShouldBe(4);
        BinaryPrimitives.ReadUInt16BigEndian(port).ShouldBe((ushort)40123);
        message.TryGetString(StunAttributeType.Software, out string software).ShouldBeTrue();
        software.ShouldBe("natpunch tests");
        message.VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void ChangeRequestNoneIsSentWhenAsked()
    {
        byte[] bytes = new StunRequest(Server) { ChangeRequest = ChangeRequestFlags.None, Fingerprint = false }.Encode(TransactionId.NewRandom());

        StunMessage.TryParse(bytes, out StunMessage message, out _).ShouldBeTrue();
        message.TryGetUInt32(StunAttributeType.ChangeRequest, out uint flags).ShouldBeTrue();
        flags.ShouldBe(0u);
        message.HasFingerprint.ShouldBeFalse();
    }

    [Fact]
    public void PaddingFillsTheDatagramToTheMtu()
    {
        byte[] bytes = new StunRequest(Server) { PaddingLength = StunRequest.FullMtuPadding }.Encode(TransactionId.NewRandom());

        (bytes.Length + 20 + 8).ShouldBe(1500);
        StunMessage.TryParse(bytes, out StunMessage message, out _).ShouldBeTrue();
        message.TryGetAttribute(StunAttributeType.Padding, out ReadOnlySpan<byte> padding).ShouldBeTrue();
        padding.Length.ShouldBe(StunRequest.FullMtuPadding);
        message.VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void PaddingIsRoundedUpToFourBytes()
    {
        byte[] bytes = new StunRequest(Server) { PaddingLength = 5 }.Encode(TransactionId.NewRandom());

        StunMessage.TryParse(bytes, out StunMessage message, out _).ShouldBeTrue();
        message.TryGetAttribute(StunAttributeType.Padding, out ReadOnlySpan<byte> padding).ShouldBeTrue();
        padding.Length.ShouldBe(8);
    }

    [Fact]
    public void PaddingWithResponsePortIsRefused()
    {
        var request = new StunRequest(Server) { PaddingLength = 100, ResponsePort = 4000 };

        Should.Throw<ArgumentException>(() => request.Encode(TransactionId.NewRandom()));
    }

    [Fact]
    public void ResponsePortOutOfRangeIsRefused()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new StunRequest(Server) { ResponsePort = 0 }.Encode(TransactionId.NewRandom()));
        Should.Throw<ArgumentOutOfRangeException>(() => new StunRequest(Server) { ResponsePort = 70000 }.Encode(TransactionId.NewRandom()));
    }
}
