using System.Security.Cryptography;
using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>Keys for MESSAGE-INTEGRITY (RFC 8489 §9.1.1, §9.2.2) and USERHASH (§14.4).</summary>
public class StunCredentialsTests
{
    [Fact]
    public void ShortTermKeyIsThePasswordInUtf8()
    {
        StunCredentials.ShortTermKey("VOkJxbRl1RmTxUk/WvJxBt").ShouldBe("VOkJxbRl1RmTxUk/WvJxBt"u8.ToArray());
    }

    [Fact]
    public void ShortTermKeyNormalizesToNfc()
    {
        StunCredentials.ShortTermKey("caf\u0065\u0301").ShouldBe(StunCredentials.ShortTermKey("caf\u00e9"));
    }

    [Fact]
    public void LongTermMd5KeyIsMd5OfUserRealmPassword()
    {
        byte[] key = StunCredentials.LongTermKey("user", "realm", "pass");

        // The same value as stun-rs's HMACKey::new_long_term example.
        Convert.ToHexStringLower(key).ShouldBe("8493fbc53ba582fb4c044c456bdc40eb");
    }

    [Fact]
    public void LongTermSha256KeyIsSha256OfUserRealmPassword()
    {
        byte[] key = StunCredentials.LongTermKey("user", "realm", "pass", PasswordAlgorithm.Sha256);

        key.Length.ShouldBe(32);
        key.ShouldBe(SHA256.HashData("user:realm:pass"u8));
        Convert.ToHexStringLower(key).ShouldBe("07e934117abd40836e7c6329b54731b2b2d2a5f9a71f544922d75e0730d8251b");
    }

    [Fact]
    public void LongTermKeyOfTheRfc5769SampleIsMd5OfTheKatakanaUsername()
    {
        byte[] key = StunCredentials.LongTermKey(Rfc5769Vectors.LongTermUsername, Rfc5769Vectors.LongTermRealm, Rfc5769Vectors.LongTermPassword);

        key.ShouldBe(MD5.HashData(Encoding.UTF8.GetBytes("\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9:example.org:TheMatrIX")));
    }

    [Fact]
    public void UserHashIs32BytesOfSha256OfUserAndRealm()
    {
        byte[] hash = StunCredentials.UserHash("user", "realm");

        hash.Length.ShouldBe(32);
        Convert.ToHexStringLower(hash).ShouldBe("6a3029116b47aa98bcaa325399733dc1a23cd57e26b81bef3ff6531ce624e2da");
    }

    [Fact]
    public void UserHashFitsItsAttribute()
    {
        byte[] bytes = RawStun.Build(StunMessageType.BindingRequest, (ref StunMessageBuilder b) =>
            b.AddBytes(StunAttributeType.UserHash, StunCredentials.UserHash("user", "realm")));

        RawStun.Parse(bytes).TryGetAttribute(StunAttributeType.UserHash, out ReadOnlySpan<byte> value).ShouldBeTrue();
        value.Length.ShouldBe(32);
    }
}
