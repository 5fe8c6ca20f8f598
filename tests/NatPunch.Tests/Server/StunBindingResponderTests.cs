using System.Buffers.Binary;
using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Server.Stun;

namespace NatPunch.Tests.Server;

public class StunBindingResponderTests
{
    private static readonly byte[] ClientIP = [203, 0, 113, 7];
    private const int ClientPort = 40000;

    private static readonly ServerAddressSet Plain = new(IPEndPoint.Parse("192.0.2.1:3478"), null);
    private static readonly ServerAddressSet Rfc5780 = new(IPEndPoint.Parse("192.0.2.1:3478"), IPAddress.Parse("192.0.2.2"));

    private delegate void AddAttributes(ref StunMessageBuilder builder);

    private static byte[] Request(AddAttributes? add = null, bool fingerprint = false, StunMessageType? type = null)
    {
        var buffer = new byte[1024];
        var builder = new StunMessageBuilder(buffer, type ?? StunMessageType.BindingRequest, TransactionId.NewRandom());
        add?.Invoke(ref builder);
        if (fingerprint)
        {
            builder.AddFingerprint();
        }
        return builder.Written.ToArray();
    }

    private static (StunResponse Outcome, byte[] Bytes) Respond(ServerAddressSet addresses, byte[] request, int receivedOn = 0, bool overTcp = false)
    {
        var response = new byte[StunBindingResponder.MaxResponseLength(request.Length)];
        StunResponse outcome = new StunBindingResponder(addresses).Respond(request, ClientIP, ClientPort, receivedOn, overTcp, response);
        return (outcome, response[..outcome.Length]);
    }

    [Fact]
    public void BindingRequestGetsXorMappedAddressOfTheClient()
    {
        byte[] request = Request();
        var (outcome, bytes) = Respond(Plain, request);
        outcome.HasResponse.ShouldBeTrue();
        outcome.SendFromIndex.ShouldBe(0);
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.Type.ShouldBe(StunMessageType.BindingSuccess);
        response.TransactionId.ShouldBe(TransactionId.Read(request.AsSpan(8)));
        response.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint mapped).ShouldBeTrue();
        mapped.ShouldBe(IPEndPoint.Parse("203.0.113.7:40000"));
        response.HasAttribute(StunAttributeType.OtherAddress).ShouldBeFalse();
        response.HasFingerprint.ShouldBeFalse();
    }

    [Fact]
    public void FingerprintInRequestGetsFingerprintInResponse()
    {
        var (_, bytes) = Respond(Plain, Request(fingerprint: true));
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void WrongFingerprintIsDropped()
    {
        byte[] request = Request(fingerprint: true);
        request[^1] ^= 0xFF;
        Respond(Plain, request).Outcome.Dropped.ShouldBe(StunDropReason.BadFingerprint);
    }

    [Fact]
    public void UnknownComprehensionRequiredAttributeGets420ListingIt()
    {
        byte[] request = Request((ref StunMessageBuilder b) =>
        {
            b.AddBytes(0x7F01, [1, 2, 3]);
            b.AddBytes(0x7F01, [5]); // listed once
            b.AddBytes(0xC001, [4]); // comprehension-optional: ignored
        });
        var (_, bytes) = Respond(Plain, request);
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.Type.ShouldBe(StunMessageType.BindingError);
        response.TryGetErrorCode(out int code, out _).ShouldBeTrue();
        code.ShouldBe(420);
        response.TryGetAttribute(StunAttributeType.UnknownAttributes, out ReadOnlySpan<byte> unknown).ShouldBeTrue();
        unknown.Length.ShouldBe(2);
        BinaryPrimitives.ReadUInt16BigEndian(unknown).ShouldBe((ushort)0x7F01);
    }

    [Fact]
    public void UnknownOptionalAttributeIsIgnored()
    {
        var (_, bytes) = Respond(Plain, Request((ref StunMessageBuilder b) => b.AddBytes(0xC001, [4])));
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.Type.ShouldBe(StunMessageType.BindingSuccess);
    }

    [Fact]
    public void ChangeRequestWithoutAlternateAddressGets420()
    {
        var (_, bytes) = Respond(Plain, Request((ref StunMessageBuilder b) =>
            b.AddUInt32(StunAttributeType.ChangeRequest, (uint)ChangeRequestFlags.ChangeIP)));
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.TryGetErrorCode(out int code, out _).ShouldBeTrue();
        code.ShouldBe(420);
    }

    [Theory]
    [InlineData(0u, 0, 0)]
    [InlineData((uint)ChangeRequestFlags.ChangePort, 0, 1)]
    [InlineData((uint)ChangeRequestFlags.ChangeIP, 0, 2)]
    [InlineData((uint)(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort), 0, 3)]
    [InlineData((uint)ChangeRequestFlags.ChangeIP, 3, 1)]
    public void ChangeRequestPicksTheSocketAndReportsOrigin(uint flags, int receivedOn, int expectedFrom)
    {
        var (outcome, bytes) = Respond(Rfc5780, Request((ref StunMessageBuilder b) => b.AddUInt32(StunAttributeType.ChangeRequest, flags)), receivedOn);
        outcome.SendFromIndex.ShouldBe(expectedFrom);
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.TryGetAddress(StunAttributeType.ResponseOrigin, out IPEndPoint origin).ShouldBeTrue();
        origin.ShouldBe(Rfc5780[expectedFrom]);
        response.TryGetAddress(StunAttributeType.OtherAddress, out IPEndPoint other).ShouldBeTrue();
        other.ShouldBe(Rfc5780[ServerAddressSet.Other(receivedOn)]);
    }

    [Fact]
    public void OtherAddressDiffersInBothIPAndPort()
    {
        var (_, bytes) = Respond(Rfc5780, Request());
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.TryGetAddress(StunAttributeType.OtherAddress, out IPEndPoint other).ShouldBeTrue();
        other.ShouldBe(IPEndPoint.Parse("192.0.2.2:3479"));
    }

    [Fact]
    public void ResponsePortRedirectsTheResponseOverUdp()
    {
        byte[] request = Request((ref StunMessageBuilder b) => b.AddUInt32(StunAttributeType.ResponsePort, 50000u << 16));
        Respond(Rfc5780, request).Outcome.DestinationPort.ShouldBe(50000);
        var (_, bytes) = Respond(Rfc5780, request, overTcp: true);
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.TryGetErrorCode(out int code, out _).ShouldBeTrue();
        code.ShouldBe(400);
    }

    [Fact]
    public void PaddingIsEchoedAtTheRequestsLength()
    {
        var (_, bytes) = Respond(Rfc5780, Request((ref StunMessageBuilder b) => b.AddAttribute(StunAttributeType.Padding, 500).Clear()));
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.TryGetAttribute(StunAttributeType.Padding, out ReadOnlySpan<byte> padding).ShouldBeTrue();
        padding.Length.ShouldBe(500);
    }

    [Fact]
    public void Rfc3489RequestGetsMappedSourceAndChangedAddress()
    {
        byte[] request = Convert.FromHexString("000100000102030405060708090A0B0C0D0E0F10");
        var (outcome, bytes) = Respond(Rfc5780, request);
        outcome.HasResponse.ShouldBeTrue();
        bytes.AsSpan(4, 16).ToArray().ShouldBe(request.AsSpan(4, 16).ToArray());
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.HasMagicCookie.ShouldBeFalse();
        response.TryGetAddress(StunAttributeType.MappedAddress, out IPEndPoint mapped).ShouldBeTrue();
        mapped.ShouldBe(IPEndPoint.Parse("203.0.113.7:40000"));
        response.TryGetAddress(StunAttributeType.SourceAddress, out IPEndPoint source).ShouldBeTrue();
        source.ShouldBe(Rfc5780[0]);
        response.TryGetAddress(StunAttributeType.ChangedAddress, out IPEndPoint changed).ShouldBeTrue();
        changed.ShouldBe(Rfc5780[3]);
    }

    [Fact]
    public void AClassicChangeRequestWithoutAnAlternateAddressIsLeftUnansweredAndSaysWhy()
    {
        // RFC 3489 Binding (no magic cookie) with CHANGE-REQUEST "change IP and port".
        byte[] request = Convert.FromHexString("000100080102030405060708090A0B0C0D0E0F10" + "0003000400000006");

        StunResponse outcome = Respond(Plain, request).Outcome;

        outcome.HasResponse.ShouldBeFalse();
        outcome.Dropped.ShouldBe(StunDropReason.ChangeNotPossible);
    }

    [Fact]
    public void ResponsesIndicationsAndGarbageAreDroppedNotAnswered()
    {
        Respond(Plain, Request(type: StunMessageType.BindingSuccess)).Outcome.Dropped.ShouldBe(StunDropReason.NotARequest);
        Respond(Plain, Request(type: StunMessageType.BindingIndication)).Outcome.Dropped.ShouldBe(StunDropReason.NotARequest);
        Respond(Plain, [0x80, 1, 2, 3]).Outcome.Dropped.ShouldBe(StunDropReason.Malformed);
        Respond(Plain, new byte[19]).Outcome.Dropped.ShouldBe(StunDropReason.Malformed);
    }

    [Fact]
    public void OtherMethodsGet400()
    {
        var (_, bytes) = Respond(Plain, Request(type: new StunMessageType(StunMethod.Allocate, StunClass.Request)));
        StunMessage.TryParse(bytes, out StunMessage response, out _).ShouldBeTrue();
        response.Type.ShouldBe(new StunMessageType(StunMethod.Allocate, StunClass.ErrorResponse));
        response.TryGetErrorCode(out int code, out _).ShouldBeTrue();
        code.ShouldBe(400);
    }

    [Fact]
    public void ResponseIsNeverMuchLargerThanRequest()
    {
        // Reflection-amplification bound: whatever the request, at most 84 bytes more come back.
        var random = new Random(5780);
        var ipv6Client = IPAddress.Parse("2001:db8::1").GetAddressBytes();
        var ipv6Set = new ServerAddressSet(IPEndPoint.Parse("[2001:db8::a]:3478"), IPAddress.Parse("2001:db8::b"));
        for (int i = 0; i < 2000; i++)
        {
            byte[] request = Request((ref StunMessageBuilder b) =>
            {
                int count = random.Next(0, 4);
                for (int k = 0; k < count; k++)
                {
                    ushort type = (ushort)random.Next(0, 0x10000);
                    if (type is StunAttributeType.MessageIntegrity or StunAttributeType.MessageIntegritySha256 or StunAttributeType.Fingerprint)
                    {
                        continue;
                    }
                    b.AddAttribute(type, type == StunAttributeType.ChangeRequest || type == StunAttributeType.ResponsePort ? 4 : random.Next(0, 8)).Clear();
                }
            }, fingerprint: random.Next(2) == 0);
            var response = new byte[StunBindingResponder.MaxResponseLength(request.Length)];
            StunResponse outcome = new StunBindingResponder(ipv6Set).Respond(request, ipv6Client, 1234, random.Next(4), overTcp: false, response);
            outcome.Length.ShouldBeLessThanOrEqualTo(request.Length + 84);
        }
    }
}
