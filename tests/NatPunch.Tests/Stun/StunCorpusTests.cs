using System.Globalization;
using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

namespace NatPunch.Tests.Stun;

/// <summary>
/// Replays every file of Corpus/stun and checks the outcome its comments promise. Directives:
/// <list type="bullet">
/// <item><c>stun: ok</c> or <c>stun: KIND at OFFSET</c> (required): the result of <see cref="StunMessage.TryParse"/>.</item>
/// <item><c>channeldata: ok channel=0xNNNN length=N</c> or <c>channeldata: no</c>.</item>
/// <item><c>attributes: 0xNNNN …</c> or <c>none</c>: the types <see cref="StunMessage.Attributes"/> yields, in order.</item>
/// <item><c>unknown: 0xNNNN …</c> or <c>none</c>: what <see cref="StunMessage.GetUnknownComprehensionRequired"/> reports.</item>
/// <item><c>integrity</c> / <c>integrity-sha256: valid|invalid key=HEX</c> or <c>absent</c>.</item>
/// <item><c>fingerprint: valid|invalid|absent</c>; <c>cookie: magic|classic</c>;
/// <c>mapped: IP:PORT</c> or <c>none</c>; <c>error: CODE REASON</c> or <c>none</c>.</item>
/// </list>
/// Every file also goes through <see cref="StunInvariants"/>, and seeds the mutation fuzzer.
/// </summary>
public class StunCorpusTests
{
    private static readonly HashSet<string> KnownDirectives =
        ["stun", "channeldata", "attributes", "unknown", "integrity", "integrity-sha256", "fingerprint", "cookie", "mapped", "error", "found-by"];

    public static TheoryData<string> Files => new(StunCorpus.FileNames);

    [Fact]
    public void CorpusHasTheInterestingCases()
    {
        string[] names = StunCorpus.FileNames.ToArray();
        names.Length.ShouldBeGreaterThanOrEqualTo(30);
        names.ShouldContain("rfc5769-sample-request.hex");
        names.ShouldContain("rfc3489-binding-request-no-cookie.hex");
        names.ShouldContain("channeldata-unpadded.hex");
        names.ShouldContain("channeldata-padded.hex");
        names.ShouldContain("unknown-comprehension-required-420.hex");
    }

    [Fact]
    public void CorpusCopiesOfTheRfc5769VectorsAreByteForByte()
    {
        StunCorpus.Load("rfc5769-sample-request.hex").Bytes.ShouldBe(Rfc5769Vectors.Request);
        StunCorpus.Load("rfc5769-sample-ipv4-response.hex").Bytes.ShouldBe(Rfc5769Vectors.IPv4Response);
        StunCorpus.Load("rfc5769-sample-ipv6-response.hex").Bytes.ShouldBe(Rfc5769Vectors.IPv6Response);
        StunCorpus.Load("rfc5769-long-term-request.hex").Bytes.ShouldBe(Rfc5769Vectors.LongTermRequest);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void CorpusFileHasTheOutcomeItsCommentsPromise(string fileName)
    {
        StunCorpusEntry entry = StunCorpus.Load(fileName);
        entry.Directives.Keys.Where(key => !KnownDirectives.Contains(key)).ShouldBeEmpty("unknown directives");
        string expectation = entry["stun"].ShouldNotBeNull("every corpus file says how it parses: '# stun: ok' or '# stun: KIND at OFFSET'");

        StunInvariants.Check(entry.Bytes, entry.IntegrityKey ?? []);

        bool parsed = StunMessage.TryParse(entry.Bytes, out StunMessage message, out StunParseError error);
        (parsed ? "ok" : $"{error.Kind} at {error.Offset}").ShouldBe(expectation);

        if (entry["channeldata"] is { } channelData)
        {
            bool isChannelData = ChannelData.TryParse(entry.Bytes, out ChannelData channel);
            (isChannelData ? $"ok channel=0x{channel.Channel:X4} length={channel.Data.Length}" : "no").ShouldBe(channelData);
        }
        if (!parsed)
        {
            return;
        }

        if (entry["attributes"] is { } attributes)
        {
            var types = new List<ushort>();
            foreach (StunAttribute attribute in message.Attributes)
            {
                types.Add(attribute.Type);
            }
            types.ShouldBe(ParseTypes(attributes));
        }
        if (entry["unknown"] is { } unknown)
        {
            var found = new ushort[16];
            found[..message.GetUnknownComprehensionRequired(found)].ShouldBe(ParseTypes(unknown));
        }
        if (entry["integrity"] is { } integrity)
        {
            Verdict(message.IntegrityOffset >= 0, message.VerifyMessageIntegrity(StunCorpusEntry.KeyIn(integrity) ?? [])).ShouldBe(integrity.Split(' ')[0]);
        }
        if (entry["integrity-sha256"] is { } sha256)
        {
            Verdict(message.IntegritySha256Offset >= 0, message.VerifyMessageIntegritySha256(StunCorpusEntry.KeyIn(sha256) ?? [])).ShouldBe(sha256.Split(' ')[0]);
        }
        if (entry["fingerprint"] is { } fingerprint)
        {
            Verdict(message.HasFingerprint, message.VerifyFingerprint()).ShouldBe(fingerprint);
        }
        if (entry["cookie"] is { } cookie)
        {
            (message.HasMagicCookie ? "magic" : "classic").ShouldBe(cookie);
        }
        if (entry["mapped"] is { } mapped)
        {
            (message.TryGetMappedAddress(out IPEndPoint endPoint) ? endPoint.ToString() : "none").ShouldBe(mapped);
        }
        if (entry["error"] is { } errorCode)
        {
            (message.TryGetErrorCode(out int code, out string reason) ? $"{code} {reason}" : "none").ShouldBe(errorCode);
        }
    }

    private static string Verdict(bool present, bool verifies) => !present ? "absent" : verifies ? "valid" : "invalid";

    private static ushort[] ParseTypes(string list) => list == "none"
        ? []
        : list.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(type => ushort.Parse(type.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
}
