using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.Stun;

/// <summary>
/// Deterministic fuzzing of the STUN codec: over a million inputs (fixed seeds, <see cref="Random"/>)
/// go through <see cref="StunMessage.TryParse"/>, every accessor, the framing helpers and ChannelData,
/// and <see cref="StunInvariants"/> checks every answer. A failure prints the input in hex, ready to
/// become a file in Corpus/stun.
/// </summary>
public class StunParserFuzzTests(ITestOutputHelper output)
{
    private const int RandomByteInputs = 250_000;
    private const int AttributeSoupInputs = 150_000;
    private const int MutatedInputs = 600_000;
    private const int RoundTripMessages = 20_000;

    [Fact]
    public void RandomBytesNeverBreakTheCodec()
    {
        var random = new Random(5769);
        var run = new FuzzRun("random bytes (0-600)");
        for (int i = 0; i < RandomByteInputs; i++)
        {
            byte[] input = RandomStunMessages.RandomBytes(random, random.Next(0, 601));
            if (random.Next(4) == 0 && input.Length > 0)
            {
                // A quarter look like STUN at first glance, so that more of them reach the length check.
                input[0] &= 0x3F;
            }
            run.Feed(input, RandomStunMessages.Keys[i % RandomStunMessages.Keys.Length]);
        }
        run.Finish(output, RandomByteInputs);
    }

    [Fact]
    public void RandomAttributeSoupNeverBreaksTheCodec()
    {
        var random = new Random(8489);
        var run = new FuzzRun("valid header, random attributes");
        for (int i = 0; i < AttributeSoupInputs; i++)
        {
            run.Feed(AttributeSoup(random), RandomStunMessages.Keys[i % RandomStunMessages.Keys.Length]);
        }
        run.Finish(output, AttributeSoupInputs);
    }

    [Fact]
    public void MutatedValidMessagesNeverBreakTheCodec()
    {
        var random = new Random(8656);
        List<(byte[] Bytes, byte[] Key)> seeds = Seeds(random);
        byte[][] seedBytes = seeds.Select(s => s.Bytes).ToArray();
        var run = new FuzzRun($"mutations of {seeds.Count} valid messages");
        for (int i = 0; i < MutatedInputs; i++)
        {
            (byte[] seed, byte[] key) = seeds[random.Next(seeds.Count)];
            run.Feed(StunMutator.Mutate(seed, random, seedBytes), key);
        }
        run.Finish(output, MutatedInputs);
    }

    [Fact]
    public void BuiltMessagesParseBackToTheSameAttributesAndFitAnExactBuffer()
    {
        var random = new Random(3489);
        for (int i = 0; i < RoundTripMessages; i++)
        {
            GeneratedMessage generated = RandomStunMessages.Generate(random);
            try
            {
                StunInvariants.Check(generated.Bytes, generated.AnyKey);
                CheckRoundTrip(generated);
            }
            catch (Exception e)
            {
                Assert.Fail($"message {i} did not round-trip: {e.Message}\n{Convert.ToHexString(generated.Bytes)}\n{e}");
            }
        }
        output.WriteLine($"{RoundTripMessages} built messages parsed back to the same attributes and rebuilt byte for byte in exact-size buffers");
    }

    [Fact]
    public void EverySingleBitFlipIsCaughtByIntegrityAndFingerprint()
    {
        var random = new Random(5389);
        var messages = new List<(byte[] Bytes, byte[]? Key, byte[]? Sha256Key)>
        {
            (Rfc5769Vectors.Request, Rfc5769Vectors.ShortTermKeyBytes, null),
            (Rfc5769Vectors.IPv4Response, Rfc5769Vectors.ShortTermKeyBytes, null),
            (Rfc5769Vectors.IPv6Response, Rfc5769Vectors.ShortTermKeyBytes, null),
        };
        while (messages.Count < 200)
        {
            GeneratedMessage generated = RandomStunMessages.Generate(random);
            if (generated.IntegrityKey is not null || generated.IntegritySha256Key is not null || generated.HasFingerprint)
            {
                messages.Add((generated.Bytes, generated.IntegrityKey, generated.IntegritySha256Key));
            }
        }

        int flips = 0;
        foreach ((byte[] original, byte[]? key, byte[]? sha256Key) in messages)
        {
            StunMessage.TryParse(original, out StunMessage parsed, out _).ShouldBeTrue();
            int integrityEnd = parsed.IntegrityOffset >= 0 ? parsed.IntegrityOffset + 24 : -1;
            int sha256End = parsed.IntegritySha256Offset >= 0 ? parsed.IntegritySha256Offset + 36 : -1;
            bool hasFingerprint = parsed.HasFingerprint;
            byte[] flipped = (byte[])original.Clone();
            for (int bit = 0; bit < original.Length * 8; bit++, flips++)
            {
                int at = bit / 8;
                flipped[at] ^= (byte)(0x80 >> (bit % 8));
                bool ok = StunMessage.TryParse(flipped, out StunMessage message, out _);
                if (key is not null && at < integrityEnd && ok && message.VerifyMessageIntegrity(key))
                {
                    Assert.Fail($"MESSAGE-INTEGRITY missed bit {bit} of {Convert.ToHexString(original)}");
                }
                if (key is not null && at >= integrityEnd && ok && !message.VerifyMessageIntegrity(key))
                {
                    // RFC 8489 §14.5: what follows MESSAGE-INTEGRITY is not covered by it.
                    Assert.Fail($"MESSAGE-INTEGRITY should not cover bit {bit} of {Convert.ToHexString(original)}");
                }
                if (sha256Key is not null && at < sha256End && ok && message.VerifyMessageIntegritySha256(sha256Key))
                {
                    Assert.Fail($"MESSAGE-INTEGRITY-SHA256 missed bit {bit} of {Convert.ToHexString(original)}");
                }
                if (hasFingerprint && ok && message.VerifyFingerprint())
                {
                    Assert.Fail($"FINGERPRINT missed bit {bit} of {Convert.ToHexString(original)}");
                }
                flipped[at] = original[at];
            }
        }
        output.WriteLine($"{flips} single-bit flips over {messages.Count} signed or fingerprinted messages, all caught");
    }

    private static void CheckRoundTrip(GeneratedMessage generated)
    {
        StunMessage.TryParse(generated.Bytes, out StunMessage message, out StunParseError error).ShouldBeTrue(error.ToString());
        message.RawType.ShouldBe(generated.RawType);
        message.HasMagicCookie.ShouldBe(generated.HasMagicCookie);
        message.TransactionId.ShouldBe(generated.TransactionId);

        var expectedTypes = generated.Attributes.Select(a => a.Type).ToList();
        if (generated.IntegrityKey is not null)
        {
            expectedTypes.Add(StunAttributeType.MessageIntegrity);
        }
        if (generated.IntegritySha256Key is not null)
        {
            expectedTypes.Add(StunAttributeType.MessageIntegritySha256);
        }
        if (generated.HasFingerprint)
        {
            expectedTypes.Add(StunAttributeType.Fingerprint);
        }
        var types = new List<ushort>();
        foreach (StunAttribute attribute in message.Attributes)
        {
            if (types.Count < generated.Attributes.Count)
            {
                attribute.Value.ToArray().ShouldBe(generated.Attributes[types.Count].Value, $"value of attribute {types.Count}");
            }
            types.Add(attribute.Type);
        }
        types.ShouldBe(expectedTypes);

        foreach (GeneratedAttribute attribute in generated.Attributes.DistinctBy(a => a.Type))
        {
            CheckTypedValue(message, attribute);
        }

        message.VerifyMessageIntegrity(generated.IntegrityKey ?? [1]).ShouldBe(generated.IntegrityKey is not null);
        message.VerifyMessageIntegrity([.. generated.IntegrityKey ?? [], 1]).ShouldBeFalse();
        message.VerifyMessageIntegritySha256(generated.IntegritySha256Key ?? [1]).ShouldBe(generated.IntegritySha256Key is not null);
        message.VerifyMessageIntegritySha256([.. generated.IntegritySha256Key ?? [], 1]).ShouldBeFalse();
        message.VerifyFingerprint().ShouldBe(generated.HasFingerprint);

        // The builder needs no room beyond the message itself.
        var exact = new byte[generated.Bytes.Length];
        RandomStunMessages.Build(generated, exact).ShouldBe(exact.Length);
        exact.ShouldBe(generated.Bytes);

        // Every type 0x0040-0x7FFF the generator made up is comprehension-required and unknown here.
        ushort[] expectedUnknown = generated.Attributes.Select(a => a.Type).Where(t => t is >= 0x0040 and < 0x8000).ToArray();
        var unknown = new ushort[16];
        int unknownCount = message.GetUnknownComprehensionRequired(unknown);
        unknown[..unknownCount].ShouldBe(expectedUnknown);
    }

    private static void CheckTypedValue(StunMessage message, GeneratedAttribute attribute)
    {
        switch (attribute.Kind)
        {
            case GeneratedKind.Text:
                message.TryGetString(attribute.Type, out string text).ShouldBeTrue();
                text.ShouldBe((string)attribute.Expected!);
                break;
            case GeneratedKind.UInt32:
                message.TryGetUInt32(attribute.Type, out uint u32).ShouldBeTrue();
                u32.ShouldBe((uint)attribute.Expected!);
                break;
            case GeneratedKind.UInt64:
                message.TryGetUInt64(attribute.Type, out ulong u64).ShouldBeTrue();
                u64.ShouldBe((ulong)attribute.Expected!);
                break;
            case GeneratedKind.Address:
                message.TryGetAddress(attribute.Type, out IPEndPoint address).ShouldBeTrue();
                address.ShouldBe((IPEndPoint)attribute.Expected!);
                break;
            case GeneratedKind.XorAddress:
                message.TryGetXorAddress(attribute.Type, out IPEndPoint xorAddress).ShouldBeTrue();
                xorAddress.ShouldBe((IPEndPoint)attribute.Expected!);
                break;
            case GeneratedKind.ErrorCode:
                message.TryGetErrorCode(out int code, out string reason).ShouldBeTrue();
                (code, reason).ShouldBe(((int, string))attribute.Expected!);
                break;
            case GeneratedKind.UnknownAttributes:
                message.TryGetAttribute(StunAttributeType.UnknownAttributes, out ReadOnlySpan<byte> value).ShouldBeTrue();
                var listed = new ushort[value.Length / 2];
                for (int i = 0; i < listed.Length; i++)
                {
                    listed[i] = BinaryPrimitives.ReadUInt16BigEndian(value[(2 * i)..]);
                }
                listed.ShouldBe((ushort[])attribute.Expected!);
                break;
        }
    }

    /// <summary>The RFC 5769 vectors, the corpus and 500 built messages, each with the key to try on it.</summary>
    private static List<(byte[] Bytes, byte[] Key)> Seeds(Random random)
    {
        var seeds = new List<(byte[], byte[])>
        {
            (Rfc5769Vectors.Request, Rfc5769Vectors.ShortTermKeyBytes),
            (Rfc5769Vectors.IPv4Response, Rfc5769Vectors.ShortTermKeyBytes),
            (Rfc5769Vectors.IPv6Response, Rfc5769Vectors.ShortTermKeyBytes),
            (Rfc5769Vectors.LongTermRequest, Rfc5769Vectors.LongTermKeyBytes),
        };
        foreach (StunCorpusEntry entry in StunCorpus.LoadAll())
        {
            seeds.Add((entry.Bytes, entry.IntegrityKey ?? Rfc5769Vectors.ShortTermKeyBytes));
        }
        for (int i = 0; i < 500; i++)
        {
            GeneratedMessage generated = RandomStunMessages.Generate(random);
            seeds.Add((generated.Bytes, generated.AnyKey));
        }
        return seeds;
    }

    private static readonly ushort[] SoupTypes =
    [
        StunAttributeType.MappedAddress, StunAttributeType.XorMappedAddress, StunAttributeType.XorPeerAddress,
        StunAttributeType.OtherAddress, StunAttributeType.ErrorCode, StunAttributeType.Username, StunAttributeType.Software,
        StunAttributeType.Lifetime, StunAttributeType.Priority, StunAttributeType.IceControlled, StunAttributeType.UnknownAttributes,
        StunAttributeType.MessageIntegrity, StunAttributeType.MessageIntegritySha256, StunAttributeType.Fingerprint,
        StunAttributeType.ChannelNumber, StunAttributeType.Data, 0x7FFF, 0x8123,
    ];

    /// <summary>A header that passes every check, followed by random attributes with random values.</summary>
    private static byte[] AttributeSoup(Random random)
    {
        var body = new List<byte>();
        int count = random.Next(0, 13);
        for (int i = 0; i < count; i++)
        {
            ushort type = random.Next(3) == 0 ? (ushort)random.Next(0x10000) : SoupTypes[random.Next(SoupTypes.Length)];
            int length = type switch
            {
                StunAttributeType.MessageIntegrity when random.Next(4) != 0 => 20,
                StunAttributeType.MessageIntegritySha256 when random.Next(4) != 0 => 16 + 4 * random.Next(5),
                StunAttributeType.Fingerprint when random.Next(4) != 0 => 4,
                _ => random.Next(6) switch { 0 => 4, 1 => 8, 2 => 20, _ => random.Next(0, 40) },
            };
            byte[] value = RandomStunMessages.RandomBytes(random, length);
            if (length is 8 or 20 && random.Next(2) == 0)
            {
                value[1] = (byte)(length == 8 ? 1 : 2); // a well-formed address family, most of the time
            }
            if (type == StunAttributeType.ErrorCode && length >= 4 && random.Next(2) == 0)
            {
                value[2] = (byte)random.Next(8);
                value[3] = (byte)random.Next(110);
            }
            body.AddRange(RawStun.Attribute(type, value));
            if (random.Next(10) == 0)
            {
                // Nonzero padding, which a receiver must ignore (RFC 8489 §14).
                int padding = (4 - length % 4) % 4;
                for (int p = 1; p <= padding; p++)
                {
                    body[^p] = (byte)random.Next(256);
                }
            }
        }
        var message = new byte[20 + body.Count];
        BinaryPrimitives.WriteUInt16BigEndian(message, (ushort)random.Next(0x4000));
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)body.Count);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), random.Next(8) == 0 ? (uint)random.Next() : StunConstants.MagicCookie);
        random.NextBytes(message.AsSpan(8, 12));
        body.CopyTo(message, 20);
        return message;
    }

    /// <summary>Feeds inputs to <see cref="StunInvariants"/> and keeps the tally of outcomes.</summary>
    private sealed class FuzzRun(string name)
    {
        private readonly int[] _kinds = new int[Enum.GetValues<StunParseErrorKind>().Length];
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private int _inputs;
        private int _channelData;
        private int _integrityVerified;
        private int _fingerprintVerified;

        public void Feed(byte[] input, byte[] key)
        {
            StunCheckOutcome outcome;
            try
            {
                outcome = StunInvariants.Check(input, key);
            }
            catch (Exception e)
            {
                string what = e is InvariantViolation ? "broke a rule" : $"crashed the codec with {e.GetType().Name}";
                Assert.Fail($"{name}: input {_inputs} {what}: {e.Message}\n# input ({input.Length} bytes):\n{Convert.ToHexString(input)}\n{e}");
                return;
            }
            _inputs++;
            _kinds[(int)outcome.Kind]++;
            _channelData += outcome.IsChannelData ? 1 : 0;
            _integrityVerified += outcome.IntegrityVerified ? 1 : 0;
            _fingerprintVerified += outcome.FingerprintVerified ? 1 : 0;
        }

        public void Finish(ITestOutputHelper output, int expectedInputs)
        {
            _clock.Stop();
            string histogram = string.Join(", ", Enum.GetValues<StunParseErrorKind>()
                .Select(kind => $"{(kind == StunParseErrorKind.None ? "ok" : kind.ToString())} {_kinds[(int)kind]}"));
            output.WriteLine($"{name}: {_inputs} inputs in {_clock.Elapsed.TotalSeconds:F1} s");
            output.WriteLine($"  parse outcomes: {histogram}");
            output.WriteLine($"  ChannelData parsed {_channelData}, integrity verified {_integrityVerified}, fingerprint verified {_fingerprintVerified}");
            _inputs.ShouldBe(expectedInputs);
            _kinds.Sum().ShouldBe(expectedInputs);
        }
    }
}
