using System.Net;
using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

public class Rfc5769VectorTests
{
    private static readonly byte[] ShortTermKey = StunCredentials.ShortTermKey(Rfc5769Vectors.ShortTermPassword);

    [Fact]
    public void SampleRequestParsesWithIntegrityAndFingerprint()
    {
        StunMessage.TryParse(Rfc5769Vectors.Request, out StunMessage message, out StunParseError error).ShouldBeTrue(error.ToString());
        message.Type.ShouldBe(StunMessageType.BindingRequest);
        message.HasMagicCookie.ShouldBeTrue();
        message.TransactionId.ToString().ShouldBe("b7e7a701bc34d686fa87dfae");
        message.TryGetString(StunAttributeType.Software, out string software).ShouldBeTrue();
        software.ShouldBe("STUN test client");
        message.TryGetString(StunAttributeType.Username, out string username).ShouldBeTrue();
        username.ShouldBe("evtj:h6vY");
        message.TryGetUInt32(StunAttributeType.Priority, out uint priority).ShouldBeTrue();
        priority.ShouldBe(0x6e0001ffu);
        message.TryGetUInt64(StunAttributeType.IceControlled, out ulong tieBreaker).ShouldBeTrue();
        tieBreaker.ShouldBe(0x932ff9b151263b36ul);
        message.VerifyMessageIntegrity(ShortTermKey).ShouldBeTrue();
        message.VerifyMessageIntegrity("wrong"u8).ShouldBeFalse();
        message.VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void SampleIPv4ResponseGivesMappedAddress()
    {
        StunMessage.TryParse(Rfc5769Vectors.IPv4Response, out StunMessage message, out _).ShouldBeTrue();
        message.Type.ShouldBe(StunMessageType.BindingSuccess);
        message.TryGetString(StunAttributeType.Software, out string software).ShouldBeTrue();
        software.ShouldBe("test vector");
        message.TryGetMappedAddress(out IPEndPoint mapped).ShouldBeTrue();
        mapped.ShouldBe(IPEndPoint.Parse("192.0.2.1:32853"));
        message.VerifyMessageIntegrity(ShortTermKey).ShouldBeTrue();
        message.VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void SampleIPv6ResponseGivesMappedAddress()
    {
        StunMessage.TryParse(Rfc5769Vectors.IPv6Response, out StunMessage message, out _).ShouldBeTrue();
        message.TryGetMappedAddress(out IPEndPoint mapped).ShouldBeTrue();
        mapped.ShouldBe(IPEndPoint.Parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
        message.VerifyMessageIntegrity(ShortTermKey).ShouldBeTrue();
        message.VerifyFingerprint().ShouldBeTrue();
    }

    [Fact]
    public void LongTermRequestVerifiesWithDerivedKey()
    {
        StunMessage.TryParse(Rfc5769Vectors.LongTermRequest, out StunMessage message, out _).ShouldBeTrue();
        message.TryGetString(StunAttributeType.Username, out string username).ShouldBeTrue();
        username.ShouldBe(Rfc5769Vectors.LongTermUsername);
        message.TryGetString(StunAttributeType.Nonce, out string nonce).ShouldBeTrue();
        nonce.ShouldBe(Rfc5769Vectors.LongTermNonce);
        message.TryGetString(StunAttributeType.Realm, out string realm).ShouldBeTrue();
        realm.ShouldBe(Rfc5769Vectors.LongTermRealm);
        message.HasFingerprint.ShouldBeFalse();
        byte[] key = StunCredentials.LongTermKey(username, realm, Rfc5769Vectors.LongTermPassword);
        message.VerifyMessageIntegrity(key).ShouldBeTrue();
        message.VerifyMessageIntegrity(StunCredentials.LongTermKey(username, realm, "thematrix")).ShouldBeFalse();
    }

    [Fact]
    public void BuilderReproducesSampleIPv4ResponseByteForByte()
    {
        byte[] expected = Rfc5769Vectors.IPv4Response;
        var buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess, TransactionId.Read(expected.AsSpan(8)));
        // The RFC pads SOFTWARE with a space, so write the 11 bytes and then the space padding.
        builder.AddBytes(StunAttributeType.Software, "test vector"u8);
        buffer[20 + 4 + 11] = 0x20;
        builder.AddXorAddress(StunAttributeType.XorMappedAddress, IPEndPoint.Parse("192.0.2.1:32853"));
        builder.AddMessageIntegrity(ShortTermKey);
        builder.AddFingerprint();
        builder.Written.ToArray().ShouldBe(expected);
    }

    [Fact]
    public void BuilderReproducesLongTermRequestByteForByte()
    {
        byte[] expected = Rfc5769Vectors.LongTermRequest;
        var buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, TransactionId.Read(expected.AsSpan(8)));
        builder.AddString(StunAttributeType.Username, Rfc5769Vectors.LongTermUsername);
        builder.AddString(StunAttributeType.Nonce, Rfc5769Vectors.LongTermNonce);
        builder.AddString(StunAttributeType.Realm, Rfc5769Vectors.LongTermRealm);
        builder.AddMessageIntegrity(StunCredentials.LongTermKey(
            Rfc5769Vectors.LongTermUsername, Rfc5769Vectors.LongTermRealm, Rfc5769Vectors.LongTermPassword));
        builder.Written.ToArray().ShouldBe(expected);
    }

    [Fact]
    public void BuilderReproducesSampleIPv6XorAddress()
    {
        byte[] expected = Rfc5769Vectors.IPv6Response;
        var buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess, TransactionId.Read(expected.AsSpan(8)));
        builder.AddXorAddress(StunAttributeType.XorMappedAddress, IPEndPoint.Parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
        builder.Written[20..].ToArray().ShouldBe(expected.AsSpan(20 + 16, 24).ToArray());
    }

    [Fact]
    public void UsernameIsUtf8()
    {
        Encoding.UTF8.GetByteCount(Rfc5769Vectors.LongTermUsername).ShouldBe(18);
    }
}
