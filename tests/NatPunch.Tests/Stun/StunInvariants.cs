using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

namespace NatPunch.Tests.Stun;

/// <summary>A rule of the codec that some input broke.</summary>
internal sealed class InvariantViolation(string message) : Exception(message);

/// <summary>What one input did: the parse outcome and which checks succeeded.</summary>
internal readonly record struct StunCheckOutcome(StunParseErrorKind Kind, bool IsChannelData, bool IntegrityVerified, bool FingerprintVerified);

/// <summary>
/// Runs bytes through <see cref="StunMessage.TryParse"/>, every accessor of the result, the framing
/// helpers and <see cref="ChannelData"/>, and checks each answer against the rules of RFC 8489 /
/// RFC 8656 and against an independent walk of the bytes (<see cref="RawAttribute"/>), an independent
/// HMAC and an independent CRC-32. Throws <see cref="InvariantViolation"/> on the first broken rule;
/// any other exception is a crash of the codec.
/// </summary>
internal static class StunInvariants
{
    /// <summary>Types to look up when they are absent: the lowest and highest numbers, and the attributes with their own accessors.</summary>
    private static readonly ushort[] ProbedTypes =
        [0x0000, 0xFFFF, StunAttributeType.XorMappedAddress, StunAttributeType.MappedAddress, StunAttributeType.ErrorCode];

    public static StunCheckOutcome Check(ReadOnlySpan<byte> input, ReadOnlySpan<byte> key)
    {
        bool isChannelData = CheckChannelData(input);
        CheckStunFraming(input);
        if (!StunMessage.TryParse(input, out StunMessage message, out StunParseError error))
        {
            CheckFailure(input, message, error);
            return new StunCheckOutcome(error.Kind, isChannelData, false, false);
        }
        Require(error == StunParseError.None, $"success came with error {error}");
        Require(!isChannelData, "bytes parsed both as STUN and as ChannelData");
        CheckHeader(input, message);
        List<RawAttribute> raw = RawAttribute.Walk(input, out bool tilesBody);
        Require(tilesBody, "a parsed message's attributes do not tile its body");
        int counted = CheckEnumeration(input, message, raw);
        CheckSpecialOffsets(message, raw, counted);
        CheckAccessors(input, message, raw, counted);
        bool integrity = CheckIntegrity(input, message, key);
        bool fingerprint = CheckFingerprint(input, message);
        return new StunCheckOutcome(StunParseErrorKind.None, false, integrity, fingerprint);
    }

    private static void CheckHeader(ReadOnlySpan<byte> input, StunMessage message)
    {
        Require(ByteOffset(input, message.Buffer) == 0 && message.Buffer.Length == input.Length, "Buffer is not the input");
        int lengthField = BinaryPrimitives.ReadUInt16BigEndian(input[2..]);
        Require(lengthField == input.Length - 20, $"length field {lengthField} but {input.Length} bytes");
        Require(message.BodyLength == lengthField, $"BodyLength {message.BodyLength} but length field {lengthField}");
        Require(lengthField % 4 == 0, $"length {lengthField} is not a multiple of 4");
        Require((input[0] & 0xC0) == 0, "parsed bytes whose top bits are set");
        Require(message.RawType == BinaryPrimitives.ReadUInt16BigEndian(input), "RawType");
        Require(message.Type.Value == message.RawType, $"type 0x{message.RawType:X4} does not survive FromValue/Value");
        Require(message.ClassicCookie == BinaryPrimitives.ReadUInt32BigEndian(input[4..]), "ClassicCookie");
        Require(message.HasMagicCookie == (message.ClassicCookie == StunConstants.MagicCookie), "HasMagicCookie");
        Span<byte> id = stackalloc byte[12];
        message.TransactionId.WriteTo(id);
        Require(id.SequenceEqual(input.Slice(8, 12)), "TransactionId");
    }

    /// <summary>The enumerated attributes are a prefix of the raw walk; returns how many.</summary>
    private static int CheckEnumeration(ReadOnlySpan<byte> input, StunMessage message, List<RawAttribute> raw)
    {
        int count = 0;
        foreach (StunAttribute attribute in message.Attributes)
        {
            Require(count < raw.Count, "more attributes enumerated than the body holds");
            RawAttribute expected = raw[count];
            Require(attribute.Offset == expected.Offset && attribute.Type == expected.Type && attribute.Value.Length == expected.Length,
                $"attribute {count} is {attribute.Type:X4}@{attribute.Offset}+{attribute.Value.Length}, the bytes say {expected}");
            long valueAt = ByteOffset(input, attribute.Value);
            Require(valueAt == expected.ValueOffset && valueAt + attribute.Value.Length <= input.Length,
                $"value of attribute {count} lies at {valueAt}, outside its place in the buffer");
            Require(attribute.ToString().Length > 0, "ToString");
            count++;
        }
        if (count < raw.Count)
        {
            // RFC 8489 §14.5, §14.6: enumeration stops only at an attribute after an integrity attribute,
            // and never at FINGERPRINT.
            bool afterIntegrity = raw.Take(count).Any(a => a.Type is StunAttributeType.MessageIntegrity or StunAttributeType.MessageIntegritySha256);
            Require(afterIntegrity, $"enumeration stopped at {raw[count]} without an integrity attribute before it");
            Require(raw[count].Type != StunAttributeType.Fingerprint, "FINGERPRINT after MESSAGE-INTEGRITY was dropped");
        }
        return count;
    }

    private static void CheckSpecialOffsets(StunMessage message, List<RawAttribute> raw, int counted)
    {
        int FirstCounted(ushort type) => raw.Take(counted).Where(a => a.Type == type).Select(a => a.Offset).DefaultIfEmpty(-1).First();

        Require(message.IntegrityOffset == FirstCounted(StunAttributeType.MessageIntegrity),
            $"IntegrityOffset {message.IntegrityOffset}, first counted MESSAGE-INTEGRITY at {FirstCounted(StunAttributeType.MessageIntegrity)}");
        Require(message.IntegritySha256Offset == FirstCounted(StunAttributeType.MessageIntegritySha256),
            $"IntegritySha256Offset {message.IntegritySha256Offset}, first counted at {FirstCounted(StunAttributeType.MessageIntegritySha256)}");
        int integrityOffset = message.IntegrityOffset, sha256Offset = message.IntegritySha256Offset;
        if (integrityOffset >= 0)
        {
            Require(raw.Single(a => a.Offset == integrityOffset).Length == 20, "MESSAGE-INTEGRITY is not 20 bytes");
        }
        if (sha256Offset >= 0)
        {
            int length = raw.Single(a => a.Offset == sha256Offset).Length;
            Require(length is >= 16 and <= 32 && length % 4 == 0, $"MESSAGE-INTEGRITY-SHA256 of {length} bytes accepted");
        }
        int fingerprints = raw.Count(a => a.Type == StunAttributeType.Fingerprint);
        Require(fingerprints <= 1, "more than one FINGERPRINT accepted");
        bool lastIsFingerprint = raw.Count > 0 && raw[^1].Type == StunAttributeType.Fingerprint;
        Require(fingerprints == 0 || lastIsFingerprint, "FINGERPRINT that is not last accepted");
        Require(message.FingerprintOffset == (lastIsFingerprint ? raw[^1].Offset : -1), $"FingerprintOffset {message.FingerprintOffset}");
        Require(message.HasFingerprint == lastIsFingerprint, "HasFingerprint");
        Require(!lastIsFingerprint || raw[^1].Length == 4, "FINGERPRINT is not 4 bytes");
    }

    private static void CheckAccessors(ReadOnlySpan<byte> input, StunMessage message, List<RawAttribute> raw, int counted)
    {
        List<RawAttribute> counting = raw.GetRange(0, counted);
        foreach (ushort absent in ProbedTypes)
        {
            if (counting.TrueForAll(a => a.Type != absent))
            {
                Require(!message.TryGetAttribute(absent, out _) && !message.HasAttribute(absent), $"found absent 0x{absent:X4}");
            }
        }

        // Every accessor on every type present; each reads the first attribute of its type.
        var seen = new HashSet<ushort>();
        foreach (RawAttribute first in counting)
        {
            ushort type = first.Type;
            if (!seen.Add(type))
            {
                continue;
            }
            ReadOnlySpan<byte> expected = input.Slice(first.ValueOffset, first.Length);
            bool found = message.TryGetAttribute(type, out ReadOnlySpan<byte> value);
            Require(found, $"TryGetAttribute(0x{type:X4}) did not find it");
            Require(ByteOffset(input, value) == first.ValueOffset && value.Length == first.Length,
                $"TryGetAttribute(0x{type:X4}) returned a span that is not the first such attribute");

            bool isUInt32 = message.TryGetUInt32(type, out uint u32);
            Require(isUInt32 == (expected.Length == 4) && (!isUInt32 || u32 == BinaryPrimitives.ReadUInt32BigEndian(expected)),
                $"TryGetUInt32(0x{type:X4})");
            bool isUInt64 = message.TryGetUInt64(type, out ulong u64);
            Require(isUInt64 == (expected.Length == 8) && (!isUInt64 || u64 == BinaryPrimitives.ReadUInt64BigEndian(expected)),
                $"TryGetUInt64(0x{type:X4})");
            bool isText = message.TryGetString(type, out string text);
            Require(isText && text == Encoding.UTF8.GetString(expected), $"TryGetString(0x{type:X4})");

            bool addressShape = ((expected.Length == 8 && expected[1] == 1) || (expected.Length == 20 && expected[1] == 2));
            bool isAddress = message.TryGetAddress(type, out IPEndPoint address);
            Require(isAddress == addressShape, $"TryGetAddress(0x{type:X4}) = {isAddress} for a {expected.Length}-byte value");
            if (isAddress)
            {
                Require(address.Port == BinaryPrimitives.ReadUInt16BigEndian(expected[2..])
                        && address.Address.GetAddressBytes().AsSpan().SequenceEqual(expected[4..]), $"TryGetAddress(0x{type:X4}) value");
            }
            bool isXorAddress = message.TryGetXorAddress(type, out IPEndPoint xorAddress);
            Require(isXorAddress == addressShape, $"TryGetXorAddress(0x{type:X4}) = {isXorAddress} for a {expected.Length}-byte value");
            if (isXorAddress)
            {
                byte[] plain = xorAddress.Address.GetAddressBytes();
                for (int i = 0; i < plain.Length; i++)
                {
                    plain[i] ^= input[4 + i];
                }
                Require(xorAddress.Port == (BinaryPrimitives.ReadUInt16BigEndian(expected[2..]) ^ 0x2112)
                        && plain.AsSpan().SequenceEqual(expected[4..]), $"TryGetXorAddress(0x{type:X4}) value");
            }
        }

        bool hasXorMapped = message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint xorMapped);
        bool hasMapped = message.TryGetAddress(StunAttributeType.MappedAddress, out IPEndPoint mapped);
        bool hasEither = message.TryGetMappedAddress(out IPEndPoint either);
        Require(hasEither == (hasXorMapped || hasMapped) && (!hasEither || either.Equals(hasXorMapped ? xorMapped : mapped)),
            "TryGetMappedAddress does not prefer XOR-MAPPED-ADDRESS over MAPPED-ADDRESS");

        bool hasError = message.TryGetErrorCode(out int code, out string reason);
        bool errorShape = message.TryGetAttribute(StunAttributeType.ErrorCode, out ReadOnlySpan<byte> errorValue)
                          && errorValue.Length >= 4 && (errorValue[2] & 7) is >= 3 and <= 6 && errorValue[3] <= 99;
        Require(hasError == errorShape, $"TryGetErrorCode = {hasError}");
        if (hasError)
        {
            Require(code == (errorValue[2] & 7) * 100 + errorValue[3] && code is >= 300 and <= 699, $"error code {code}");
            Require(reason == Encoding.UTF8.GetString(errorValue[4..]), "error reason");
        }

        ushort[] expectedUnknown = counting.Select(a => a.Type).Where(t => !StunAttributeType.IsUnderstood(t)).ToArray();
        Require(expectedUnknown.All(StunAttributeType.IsComprehensionRequired), "an optional attribute reported as not understood");
        Span<ushort> unknown = stackalloc ushort[64];
        int unknownCount = message.GetUnknownComprehensionRequired(unknown);
        Require(unknownCount == expectedUnknown.Length, $"{unknownCount} unknown attributes, expected {expectedUnknown.Length}");
        Require(unknown[..Math.Min(unknownCount, unknown.Length)].SequenceEqual(expectedUnknown.AsSpan(0, Math.Min(unknownCount, unknown.Length))),
            "unknown attribute list");
        Span<ushort> tooSmall = stackalloc ushort[1];
        Require(message.GetUnknownComprehensionRequired(tooSmall) == unknownCount, "count depends on the destination size");
        Require(message.GetUnknownComprehensionRequired([]) == unknownCount, "count with an empty destination");
    }

    private static bool CheckIntegrity(ReadOnlySpan<byte> input, StunMessage message, ReadOnlySpan<byte> key)
    {
        bool sha1 = message.VerifyMessageIntegrity(key);
        Require(sha1 == (message.IntegrityOffset >= 0 && IndependentHmacMatches(input, message.IntegrityOffset, key, sha256: false)),
            $"VerifyMessageIntegrity = {sha1} disagrees with an independent HMAC-SHA1");
        bool sha256 = message.VerifyMessageIntegritySha256(key);
        Require(sha256 == (message.IntegritySha256Offset >= 0 && IndependentHmacMatches(input, message.IntegritySha256Offset, key, sha256: true)),
            $"VerifyMessageIntegritySha256 = {sha256} disagrees with an independent HMAC-SHA256");
        return sha1 || sha256;
    }

    private static bool CheckFingerprint(ReadOnlySpan<byte> input, StunMessage message)
    {
        bool verified = message.VerifyFingerprint();
        bool expected = message.FingerprintOffset >= 0
                        && (ReferenceCrc32(input[..message.FingerprintOffset]) ^ StunConstants.FingerprintXor)
                        == BinaryPrimitives.ReadUInt32BigEndian(input[(message.FingerprintOffset + 4)..]);
        Require(verified == expected, $"VerifyFingerprint = {verified} disagrees with an independent CRC-32");
        return verified;
    }

    private static void CheckFailure(ReadOnlySpan<byte> input, StunMessage message, StunParseError error)
    {
        Require(error.Kind != StunParseErrorKind.None && Enum.IsDefined(error.Kind), $"failure with error {error}");
        Require(error.Offset >= 0 && error.Offset <= input.Length, $"error offset {error.Offset} outside {input.Length} bytes");
        Require(error.ToString().Contains(error.Kind.ToString()), "StunParseError.ToString");

        // A failed parse leaves an empty message that has nothing to offer and does not throw.
        Require(message.Buffer.IsEmpty, "a failed parse left bytes in the message");
        Require(!message.HasFingerprint && message.IntegrityOffset < 0 && message.IntegritySha256Offset < 0 && message.FingerprintOffset < 0,
            "a failed parse left integrity or fingerprint offsets");
        Require(!message.VerifyMessageIntegrity(default) && !message.VerifyMessageIntegritySha256(default) && !message.VerifyFingerprint(),
            "a failed parse left something that verifies");
        foreach (StunAttribute _ in message.Attributes)
        {
            Require(false, "a failed parse left attributes");
        }

        int lengthField = input.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(input[2..]) : -1;
        bool headerOk = input.Length >= 20 && (input[0] & 0xC0) == 0 && lengthField == input.Length - 20 && lengthField % 4 == 0;
        switch (error.Kind)
        {
            case StunParseErrorKind.TooShort:
                Require(input.Length < 20 && error.Offset == input.Length, $"{error} for {input.Length} bytes");
                break;
            case StunParseErrorKind.NotStun:
                Require(input.Length >= 20 && (input[0] & 0xC0) != 0 && error.Offset == 0, $"{error} for first byte 0x{input[0]:X2}");
                break;
            case StunParseErrorKind.LengthNotMultipleOfFour:
                Require(input.Length >= 20 && (input[0] & 0xC0) == 0 && lengthField % 4 != 0 && error.Offset == 2, $"{error} for length {lengthField}");
                break;
            case StunParseErrorKind.LengthMismatch:
                Require(input.Length >= 20 && (input[0] & 0xC0) == 0 && lengthField % 4 == 0 && lengthField != input.Length - 20
                        && error.Offset == 2, $"{error} for length {lengthField} and {input.Length} bytes");
                break;
            case StunParseErrorKind.AttributeTruncated:
            {
                List<RawAttribute> raw = RawAttribute.Walk(input, out bool tilesBody);
                int stoppedAt = raw.Count > 0 ? raw[^1].End : 20;
                Require(headerOk && !tilesBody && error.Offset == stoppedAt, $"{error}, but the bytes stop fitting at {stoppedAt}");
                break;
            }
            case StunParseErrorKind.FingerprintNotLast:
            {
                List<RawAttribute> raw = RawAttribute.Walk(input, out _);
                int index = raw.FindIndex(a => a.Offset == error.Offset);
                Require(headerOk && index >= 0 && raw[index].Type == StunAttributeType.Fingerprint && error.Offset + 8 < input.Length,
                    $"{error} does not point at a FINGERPRINT followed by more bytes");
                break;
            }
            case StunParseErrorKind.BadAttributeLength:
            {
                List<RawAttribute> raw = RawAttribute.Walk(input, out _);
                RawAttribute bad = raw.FirstOrDefault(a => a.Offset == error.Offset);
                bool wrongLength = bad.Type switch
                {
                    StunAttributeType.MessageIntegrity => bad.Length != 20,
                    StunAttributeType.MessageIntegritySha256 => bad.Length is < 16 or > 32 || bad.Length % 4 != 0,
                    StunAttributeType.Fingerprint => bad.Length != 4,
                    _ => false,
                };
                Require(headerOk && bad.Offset == error.Offset && wrongLength, $"{error} does not point at an integrity or fingerprint attribute of a wrong length");
                break;
            }
            default:
                Require(false, $"unexpected error kind {error.Kind}");
                break;
        }
    }

    /// <summary>STUN framing for streams (RFC 8489 §6.2.2): 20 + the length field whenever the top bits say STUN.</summary>
    private static void CheckStunFraming(ReadOnlySpan<byte> input)
    {
        bool framed = StunMessage.TryGetFramedLength(input, out int total);
        bool stunShape = input.Length >= 4 && (input[0] & 0xC0) == 0;
        Require(framed == stunShape, $"TryGetFramedLength = {framed}");
        Require(!framed || total == 20 + BinaryPrimitives.ReadUInt16BigEndian(input[2..]), $"framed length {total}");
        Require(StunMessage.LooksLikeStun(input) == (input.Length >= 20 && input[0] <= 3), "LooksLikeStun");
    }

    /// <summary>ChannelData (RFC 8656 §12.4, RFC 7983): returns whether the bytes parse as one.</summary>
    private static bool CheckChannelData(ReadOnlySpan<byte> input)
    {
        bool channelShape = input.Length >= 4 && input[0] is >= 0x40 and <= 0x4F;
        int dataLength = input.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(input[2..]) : -1;
        Require(ChannelData.LooksLikeChannelData(input) == channelShape, "LooksLikeChannelData");

        bool framed = ChannelData.TryGetFramedLength(input, out int total);
        Require(framed == channelShape && (!framed || total == 4 + ((dataLength + 3) & ~3)), $"ChannelData framed length {framed}/{total}");

        bool parsed = ChannelData.TryParse(input, out ChannelData message);
        Require(parsed == (channelShape && 4 + dataLength <= input.Length), $"ChannelData.TryParse = {parsed}");
        if (parsed)
        {
            Require(message.Channel == BinaryPrimitives.ReadUInt16BigEndian(input) && ChannelData.IsValidChannel(message.Channel),
                $"channel 0x{message.Channel:X4}");
            Require(ByteOffset(input, message.Data) == 4 && message.Data.Length == dataLength, "ChannelData.Data is not bytes 4.. of the input");
        }
        return parsed;
    }

    /// <summary>HMAC over the bytes before the attribute, the length field set to end after it (RFC 8489 §14.5).</summary>
    private static bool IndependentHmacMatches(ReadOnlySpan<byte> input, int offset, ReadOnlySpan<byte> key, bool sha256)
    {
        int length = BinaryPrimitives.ReadUInt16BigEndian(input[(offset + 2)..]);
        byte[] covered = input[..offset].ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(covered.AsSpan(2), (ushort)(offset + 4 + length - 20));
        byte[] mac = sha256 ? HMACSHA256.HashData(key, covered) : HMACSHA1.HashData(key, covered);
        return mac.AsSpan(0, length).SequenceEqual(input.Slice(offset + 4, length));
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return c;
    }).ToArray();

    /// <summary>Byte-at-a-time CRC-32 (ISO/IEC 13239), to check the codec's sliced one.</summary>
    public static uint ReferenceCrc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return ~crc;
    }

    /// <summary>Where <paramref name="part"/> starts relative to <paramref name="whole"/>, even for an empty span.</summary>
    private static long ByteOffset(ReadOnlySpan<byte> whole, ReadOnlySpan<byte> part) =>
        (long)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(whole), ref MemoryMarshal.GetReference(part));

    private static void Require(bool condition, string rule)
    {
        if (!condition)
        {
            throw new InvariantViolation(rule);
        }
    }

    /// <summary>Formats the rule only when it is broken: the fuzz loop checks millions of rules.</summary>
    private static void Require(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref RuleHandler rule)
    {
        if (!condition)
        {
            throw new InvariantViolation(rule.ToStringAndClear());
        }
    }

    [InterpolatedStringHandler]
    private ref struct RuleHandler
    {
        private DefaultInterpolatedStringHandler _text;

        public RuleHandler(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
        {
            shouldAppend = !condition;
            _text = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
        }

        public void AppendLiteral(string value) => _text.AppendLiteral(value);

        public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

        public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

        public string ToStringAndClear() => _text.ToStringAndClear();
    }
}
