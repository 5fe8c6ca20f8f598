using System.Text;
using NatPunch.Protocol.Rendezvous;

namespace NatPunch.Tests.Rendezvous;

public class RendezvousCodecTests
{
    [Fact]
    public void MessagesRoundTripThroughFrames()
    {
        var offer = new PeerOffer("u", "p", [new CandidateInfo("host", "[2001:db8::1]:5000", 7, "f")]);
        RendezvousMessage[] messages =
        [
            new RegisterMessage("bob", "t", offer, "i", "natpunch"),
            new IntroduceMessage("s1", "alice", IceRole.Controlled, offer, "192.0.2.1:5", 12),
            new ErrorMessage(RendezvousErrorCodes.PeerUnknown, "no"),
            new ErrorMessage(RendezvousErrorCodes.PeerBusy, "busy", Peer: "carol"),
            new PingMessage(42),
            new ResumeMessage("s2", "carol", "proof"),
            new ResumeKeyMessage("s2", "anchor"),
            new SealedSignalMessage("s2", "AAAA"),
        ];
        foreach (RendezvousMessage message in messages)
        {
            byte[] frame = RendezvousCodec.Encode(message);
            RendezvousFrame.TryRead(frame, out ReadOnlySpan<byte> payload, out int length).ShouldBe(RendezvousFrame.Status.Complete);
            length.ShouldBe(frame.Length);
            RendezvousCodec.TryDecode(payload, out RendezvousMessage decoded, out string error).ShouldBeTrue(error);
            decoded.GetType().ShouldBe(message.GetType());
            RendezvousCodec.Encode(decoded).ShouldBe(frame);
        }
    }

    [Fact]
    public void AnOfferCarriesItsMappingAndPortStepAndLeavesThemOutWhenUnknown()
    {
        byte[] frame = RendezvousCodec.Encode(new RegisterMessage("bob", null, new PeerOffer("u", "p", [], PeerOffer.MappingVariesName, 2), null, null));
        string json = Encoding.UTF8.GetString(frame.AsSpan(4));
        json.ShouldContain("\"mapping\":\"varies\"");
        json.ShouldContain("\"port_step\":2");
        RendezvousFrame.TryRead(frame, out ReadOnlySpan<byte> payload, out _).ShouldBe(RendezvousFrame.Status.Complete);
        RendezvousCodec.TryDecode(payload, out RendezvousMessage decoded, out string error).ShouldBeTrue(error);
        ((RegisterMessage)decoded).Offer!.PortStep.ShouldBe(2);

        string unknown = Encoding.UTF8.GetString(RendezvousCodec.Encode(new RegisterMessage("bob", null, new PeerOffer("u", "p", []), null, null)).AsSpan(4));
        unknown.ShouldNotContain("port_step");
        unknown.ShouldNotContain("mapping");
    }

    [Fact]
    public void WireFormatIsSnakeCaseJsonWithTypeFirst()
    {
        byte[] frame = RendezvousCodec.Encode(new IntroduceMessage("s1", "alice", IceRole.Controlling, new PeerOffer("u", "p", []), "192.0.2.1:5", 3));
        frame[0].ShouldBe((byte)0xE0);
        string json = Encoding.UTF8.GetString(frame, 4, frame.Length - 4);
        json.ShouldStartWith("{\"type\":\"introduce\"");
        json.ShouldContain("\"start_in_ms\":3");
        json.ShouldContain("\"role\":\"controlling\"");
    }

    [Fact]
    public void TheNewMessagesHaveTheirWireNames()
    {
        Json(new ResumeMessage("s1", "alice", "p")).ShouldBe("{\"type\":\"resume\",\"session\":\"s1\",\"peer\":\"alice\",\"proof\":\"p\"}");
        Json(new ResumeKeyMessage("s1", "a")).ShouldBe("{\"type\":\"resume-key\",\"session\":\"s1\",\"anchor\":\"a\"}");
        Json(new SealedSignalMessage("s1", "b")).ShouldBe("{\"type\":\"sealed\",\"session\":\"s1\",\"box\":\"b\"}");
        Json(new ErrorMessage("peer-busy", "m", Peer: "bob")).ShouldBe("{\"type\":\"error\",\"code\":\"peer-busy\",\"message\":\"m\",\"peer\":\"bob\"}");

        static string Json(RendezvousMessage message) => Encoding.UTF8.GetString(RendezvousCodec.EncodeJson(message));
    }

    [Fact]
    public void ResumeIsAnOptionalFieldOfRegister()
    {
        byte[] frame = RendezvousCodec.Encode(new RegisterMessage("bob", null, null, "i", "natpunch", new ResumeSession("s1", "alice")));
        string json = Encoding.UTF8.GetString(frame, 4, frame.Length - 4);
        json.ShouldContain("\"resume\":{\"session\":\"s1\",\"peer\":\"alice\"}");
        RendezvousCodec.TryDecode(frame.AsSpan(4), out RendezvousMessage decoded, out string error).ShouldBeTrue(error);
        ((RegisterMessage)decoded).Resume.ShouldBe(new ResumeSession("s1", "alice"));

        // What older clients send.
        RendezvousCodec.TryDecode("{\"type\":\"register\",\"name\":\"bob\",\"instance\":\"i\"}"u8, out decoded, out error).ShouldBeTrue(error);
        ((RegisterMessage)decoded).Resume.ShouldBeNull();
        Encoding.UTF8.GetString(RendezvousCodec.Encode(decoded)).ShouldNotContain("resume");
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{\"type\":\"no-such\"}")]
    [InlineData("{\"type\":\"register\"}")]
    [InlineData("{\"type\":\"connect\",\"peer\":\"bob\",\"wait_ms\":1}")]
    [InlineData("{\"type\":\"ping\",\"id\":\"x\"}")]
    [InlineData("{not json")]
    [InlineData("{\"type\":\"resume\",\"session\":\"s\"}")]
    [InlineData("{\"type\":\"resume-key\",\"session\":\"s\"}")]
    [InlineData("{\"type\":\"sealed\",\"box\":\"AAAA\"}")]
    public void BadPayloadsAreRejectedWithoutThrowing(string json)
    {
        RendezvousCodec.TryDecode(Encoding.UTF8.GetBytes(json), out _, out string error).ShouldBeFalse();
        error.ShouldNotBeEmpty();
    }

    [Fact]
    public void FramesWithWrongMarkerOrVersionAreInvalid()
    {
        RendezvousFrame.TryRead([0x00, 1, 0, 0], out _, out _).ShouldBe(RendezvousFrame.Status.Invalid);
        RendezvousFrame.TryRead([0xE0, 9, 0, 0], out _, out _).ShouldBe(RendezvousFrame.Status.Invalid);
        RendezvousFrame.TryRead([0xE0, 1, 0, 5, 1], out _, out _).ShouldBe(RendezvousFrame.Status.Incomplete);
    }
}
