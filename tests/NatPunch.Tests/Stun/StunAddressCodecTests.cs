using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>MAPPED-ADDRESS (RFC 8489 §14.1) and XOR-MAPPED-ADDRESS (§14.2) layouts, IPv4 and IPv6.</summary>
public class StunAddressCodecTests
{
    [Theory]
    [InlineData("192.0.2.1:32853")]
    [InlineData("0.0.0.0:0")]
    [InlineData("255.255.255.255:65535")]
    [InlineData("[2001:db8:1234:5678:11:2233:4455:6677]:32853")]
    [InlineData("[::]:0")]
    [InlineData("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")]
    public void XorAddressRoundTrips(string endPoint)
    {
        IPEndPoint expected = IPEndPoint.Parse(endPoint);
        byte[] bytes = RawStun.Build(StunMessageType.BindingSuccess, (ref StunMessageBuilder b) =>
            b.AddXorAddress(StunAttributeType.XorMappedAddress, expected));

        RawStun.Parse(bytes).TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint actual).ShouldBeTrue();
        actual.ShouldBe(expected);
    }

    [Theory]
    [InlineData("198.51.100.7:40000")]
    [InlineData("[2001:db8::1]:3478")]
    public void PlainAddressRoundTrips(string endPoint)
    {
        IPEndPoint expected = IPEndPoint.Parse(endPoint);
        byte[] bytes = RawStun.Build(StunMessageType.BindingSuccess, (ref StunMessageBuilder b) =>
            b.AddAddress(StunAttributeType.OtherAddress, expected));

        RawStun.Parse(bytes).TryGetAddress(StunAttributeType.OtherAddress, out IPEndPoint actual).ShouldBeTrue();
        actual.ShouldBe(expected);
    }

    [Fact]
    public void XorAddressIsXoredWithTheCookieAndTransactionId()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingSuccess, (ref StunMessageBuilder b) =>
            b.AddXorAddress(StunAttributeType.XorMappedAddress, IPEndPoint.Parse("192.0.2.1:32853")));

        // RFC 5769 §2.2: port 0x8055 ^ 0x2112 = 0xa147, 192.0.2.1 ^ 0x2112a442 = e1 12 a6 43.
        bytes[20..].ShouldBe(new byte[] { 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43 });
    }

    [Fact]
    public void IPv6XorAddressDependsOnTheTransactionId()
    {
        IPEndPoint endPoint = IPEndPoint.Parse("[2001:db8::1]:3478");
        byte[] one = Build(new TransactionId(1, 2));
        byte[] other = Build(new TransactionId(3, 4));

        one[^16..].ShouldNotBe(other[^16..]);
        RawStun.Parse(one).TryGetXorAddress(StunAttributeType.XorPeerAddress, out IPEndPoint fromOne).ShouldBeTrue();
        RawStun.Parse(other).TryGetXorAddress(StunAttributeType.XorPeerAddress, out IPEndPoint fromOther).ShouldBeTrue();
        fromOne.ShouldBe(endPoint);
        fromOther.ShouldBe(endPoint);

        byte[] Build(TransactionId id)
        {
            var buffer = new byte[128];
            var builder = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess, id);
            builder.AddXorAddress(StunAttributeType.XorPeerAddress, endPoint);
            return builder.Written.ToArray();
        }
    }

    [Fact]
    public void IPv4MappedIPv6IsWrittenAsIPv4()
    {
        IPEndPoint mapped = new(IPAddress.Parse("192.0.2.1").MapToIPv6(), 5000);
        byte[] bytes = RawStun.Build(StunMessageType.BindingSuccess, (ref StunMessageBuilder b) =>
        {
            b.AddXorAddress(StunAttributeType.XorMappedAddress, mapped);
            b.AddAddress(StunAttributeType.MappedAddress, mapped);
        });

        bytes.Length.ShouldBe(20 + 12 + 12, "two 8-byte IPv4 values, not 20-byte IPv6 ones");
        bytes[25].ShouldBe((byte)StunAddressFamily.IPv4);
        bytes[37].ShouldBe((byte)StunAddressFamily.IPv4);
        StunMessage message = RawStun.Parse(bytes);
        message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint xor).ShouldBeTrue();
        xor.ShouldBe(IPEndPoint.Parse("192.0.2.1:5000"));
        message.TryGetAddress(StunAttributeType.MappedAddress, out IPEndPoint plain).ShouldBeTrue();
        plain.ShouldBe(IPEndPoint.Parse("192.0.2.1:5000"));
        StunAddressCodec.FamilyOf(mapped.Address).ShouldBe(StunAddressFamily.IPv4);
    }

    [Theory]
    [InlineData("00 03 1234 c0000201", "family 3")]
    [InlineData("00 01 1234 c0000201 00000000 00000000 00000000", "IPv4 family with 16 address bytes")]
    [InlineData("00 02 1234 c0000201", "IPv6 family with 4 address bytes")]
    [InlineData("00 01 12", "shorter than the fixed part")]
    [InlineData("", "empty")]
    public void MalformedAddressValuesAreRejected(string value, string why)
    {
        byte[] bytes = Hex.Parse(value);

        StunAddressCodec.TryRead(bytes, out _).ShouldBeFalse(why);
        StunAddressCodec.TryReadXor(bytes, new byte[16], out _).ShouldBeFalse(why);
    }

    [Fact]
    public void ReservedFirstByteIsIgnored()
    {
        StunAddressCodec.TryRead(Hex.Parse("ff 01 0d96 c0000201"), out IPEndPoint endPoint).ShouldBeTrue();

        endPoint.ShouldBe(IPEndPoint.Parse("192.0.2.1:3478"));
    }

    [Fact]
    public void MappedAddressIsPreferredInItsXorForm()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingSuccess, (ref StunMessageBuilder b) =>
        {
            b.AddAddress(StunAttributeType.MappedAddress, IPEndPoint.Parse("198.51.100.1:1"));
            b.AddXorAddress(StunAttributeType.XorMappedAddress, IPEndPoint.Parse("198.51.100.2:2"));
        });

        RawStun.Parse(bytes).TryGetMappedAddress(out IPEndPoint mapped).ShouldBeTrue();
        mapped.ShouldBe(IPEndPoint.Parse("198.51.100.2:2"));
    }
}
