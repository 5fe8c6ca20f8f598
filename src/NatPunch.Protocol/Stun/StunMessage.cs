using System.Buffers.Binary;
using System.Net;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// A zero-copy view of a STUN message (RFC 8489 §5, §14). <see cref="TryParse"/> validates the
/// header and the attribute layout once; the accessors then read straight from the buffer.
/// RFC 3489 messages, which lack the magic cookie, parse too (<see cref="HasMagicCookie"/> is false).
/// </summary>
public readonly ref struct StunMessage
{
    private readonly int _ignoreFrom;

    private StunMessage(ReadOnlySpan<byte> buffer, int ignoreFrom, int integrityOffset, int integritySha256Offset, int fingerprintOffset)
    {
        Buffer = buffer;
        _ignoreFrom = ignoreFrom;
        IntegrityOffset = integrityOffset;
        IntegritySha256Offset = integritySha256Offset;
        FingerprintOffset = fingerprintOffset;
    }

    /// <summary>The whole message, header included.</summary>
    public ReadOnlySpan<byte> Buffer { get; }

    public ushort RawType => BinaryPrimitives.ReadUInt16BigEndian(Buffer);

    public StunMessageType Type => StunMessageType.FromValue(RawType);

    /// <summary>The length field of the header: bytes after the header.</summary>
    public int BodyLength => Buffer.Length - StunConstants.HeaderLength;

    /// <summary>False for an RFC 3489 message, whose 128-bit transaction id covers the cookie field.</summary>
    public bool HasMagicCookie => ClassicCookie == StunConstants.MagicCookie;

    /// <summary>The 4 bytes where the magic cookie sits; part of the id in an RFC 3489 message.</summary>
    public uint ClassicCookie => BinaryPrimitives.ReadUInt32BigEndian(Buffer[4..]);

    public TransactionId TransactionId => TransactionId.Read(Buffer[8..]);

    /// <summary>Offset of MESSAGE-INTEGRITY, or -1.</summary>
    public int IntegrityOffset { get; }

    /// <summary>Offset of MESSAGE-INTEGRITY-SHA256, or -1.</summary>
    public int IntegritySha256Offset { get; }

    /// <summary>Offset of FINGERPRINT, or -1.</summary>
    public int FingerprintOffset { get; }

    public bool HasFingerprint => FingerprintOffset >= 0;

    /// <summary>
    /// Quick test of the first byte, for demultiplexing (RFC 7983 §7): STUN messages start with 0–3;
    /// 16–19 is ZRTP and 20–63 DTLS, although their top two bits are zero too.
    /// </summary>
    public static bool LooksLikeStun(ReadOnlySpan<byte> datagram) =>
        datagram.Length >= StunConstants.HeaderLength && datagram[0] <= 3;

    /// <summary>
    /// The total size of the message whose header starts <paramref name="header"/>, for stream
    /// framing over TCP (RFC 8489 §6.2.2). False if fewer than 4 bytes or not STUN.
    /// </summary>
    public static bool TryGetFramedLength(ReadOnlySpan<byte> header, out int totalLength)
    {
        totalLength = 0;
        if (header.Length < 4 || (header[0] & 0xC0) != 0)
        {
            return false;
        }
        totalLength = StunConstants.HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
        return true;
    }

    /// <summary>
    /// Validates <paramref name="buffer"/> as exactly one STUN message. Never throws; on failure
    /// <paramref name="error"/> says what was wrong and where, and <paramref name="message"/> is
    /// empty: no attributes, no integrity or fingerprint to verify.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, out StunMessage message, out StunParseError error)
    {
        // Not default: its offsets would be 0, not -1, and claim a FINGERPRINT at byte 0.
        message = new StunMessage(ReadOnlySpan<byte>.Empty, 0, -1, -1, -1);
        if (buffer.Length < StunConstants.HeaderLength)
        {
            error = new StunParseError(StunParseErrorKind.TooShort, buffer.Length);
            return false;
        }
        if ((buffer[0] & 0xC0) != 0)
        {
            error = new StunParseError(StunParseErrorKind.NotStun, 0);
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        if ((length & 3) != 0)
        {
            error = new StunParseError(StunParseErrorKind.LengthNotMultipleOfFour, 2);
            return false;
        }
        if (length != buffer.Length - StunConstants.HeaderLength)
        {
            error = new StunParseError(StunParseErrorKind.LengthMismatch, 2);
            return false;
        }

        int integrity = -1, integritySha256 = -1, fingerprint = -1;
        int ignoreFrom = buffer.Length;
        int offset = StunConstants.HeaderLength;
        while (offset < buffer.Length)
        {
            if (fingerprint >= 0)
            {
                error = new StunParseError(StunParseErrorKind.FingerprintNotLast, fingerprint);
                return false;
            }
            if (offset + StunConstants.AttributeHeaderLength > buffer.Length)
            {
                error = new StunParseError(StunParseErrorKind.AttributeTruncated, offset);
                return false;
            }
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(buffer[offset..]);
            int valueLength = BinaryPrimitives.ReadUInt16BigEndian(buffer[(offset + 2)..]);
            int next = offset + StunConstants.AttributeHeaderLength + StunAttributeEnumerator.Padded(valueLength);
            if (next > buffer.Length)
            {
                error = new StunParseError(StunParseErrorKind.AttributeTruncated, offset);
                return false;
            }

            bool afterIntegrity = integrity >= 0 || integritySha256 >= 0;
            bool ignoring = ignoreFrom < buffer.Length;
            if (type == StunAttributeType.Fingerprint)
            {
                if (valueLength != 4)
                {
                    error = new StunParseError(StunParseErrorKind.BadAttributeLength, offset);
                    return false;
                }
                fingerprint = offset;
            }
            else if (type == StunAttributeType.MessageIntegrity && !afterIntegrity)
            {
                if (valueLength != StunConstants.MessageIntegrityLength)
                {
                    error = new StunParseError(StunParseErrorKind.BadAttributeLength, offset);
                    return false;
                }
                integrity = offset;
            }
            else if (type == StunAttributeType.MessageIntegritySha256 && integritySha256 < 0 && !ignoring)
            {
                // RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4.
                if (valueLength is < 16 or > 32 || (valueLength & 3) != 0)
                {
                    error = new StunParseError(StunParseErrorKind.BadAttributeLength, offset);
                    return false;
                }
                integritySha256 = offset;
            }
            else if (afterIntegrity && !ignoring)
            {
                // RFC 8489 §14.5/§14.6: other attributes after an integrity attribute are ignored.
                ignoreFrom = offset;
            }
            offset = next;
        }

        message = new StunMessage(buffer, ignoreFrom, integrity, integritySha256, fingerprint);
        error = StunParseError.None;
        return true;
    }

    /// <summary>The attributes that count: those after an integrity attribute are skipped.</summary>
    public StunAttributeEnumerator Attributes => new(Buffer, _ignoreFrom);

    /// <summary>The value of the first attribute of <paramref name="type"/>.</summary>
    public bool TryGetAttribute(ushort type, out ReadOnlySpan<byte> value)
    {
        foreach (StunAttribute attribute in Attributes)
        {
            if (attribute.Type == type)
            {
                value = attribute.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    public bool HasAttribute(ushort type) => TryGetAttribute(type, out _);

    /// <summary>
    /// Copies the comprehension-required attributes this agent does not understand into
    /// <paramref name="destination"/> (for a 420 response, RFC 8489 §6.3.1.1) and returns how many there were.
    /// </summary>
    public int GetUnknownComprehensionRequired(Span<ushort> destination)
    {
        int count = 0;
        foreach (StunAttribute attribute in Attributes)
        {
            if (!StunAttributeType.IsUnderstood(attribute.Type))
            {
                if (count < destination.Length)
                {
                    destination[count] = attribute.Type;
                }
                count++;
            }
        }
        return count;
    }

    /// <summary>Reads an XOR-encoded address attribute (XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, …).</summary>
    public bool TryGetXorAddress(ushort type, out IPEndPoint endPoint)
    {
        endPoint = null!;
        return TryGetAttribute(type, out ReadOnlySpan<byte> value)
               && StunAddressCodec.TryReadXor(value, Buffer.Slice(4, 16), out endPoint);
    }

    /// <summary>Reads a plain address attribute (MAPPED-ADDRESS, OTHER-ADDRESS, RESPONSE-ORIGIN, …).</summary>
    public bool TryGetAddress(ushort type, out IPEndPoint endPoint)
    {
        endPoint = null!;
        return TryGetAttribute(type, out ReadOnlySpan<byte> value) && StunAddressCodec.TryRead(value, out endPoint);
    }

    /// <summary>The address the server saw: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (RFC 8489 §14.1).</summary>
    public bool TryGetMappedAddress(out IPEndPoint endPoint) =>
        TryGetXorAddress(StunAttributeType.XorMappedAddress, out endPoint)
        || TryGetAddress(StunAttributeType.MappedAddress, out endPoint);

    public bool TryGetErrorCode(out int code, out string reason)
    {
        code = 0;
        reason = string.Empty;
        return TryGetAttribute(StunAttributeType.ErrorCode, out ReadOnlySpan<byte> value)
               && StunErrorCode.TryRead(value, out code, out reason);
    }

    public bool TryGetUInt32(ushort type, out uint number)
    {
        number = 0;
        if (!TryGetAttribute(type, out ReadOnlySpan<byte> value) || value.Length != 4)
        {
            return false;
        }
        number = BinaryPrimitives.ReadUInt32BigEndian(value);
        return true;
    }

    public bool TryGetUInt64(ushort type, out ulong number)
    {
        number = 0;
        if (!TryGetAttribute(type, out ReadOnlySpan<byte> value) || value.Length != 8)
        {
            return false;
        }
        number = BinaryPrimitives.ReadUInt64BigEndian(value);
        return true;
    }

    /// <summary>A text attribute (USERNAME, REALM, NONCE, SOFTWARE) as UTF-8; invalid bytes become U+FFFD.</summary>
    public bool TryGetString(ushort type, out string text)
    {
        text = string.Empty;
        if (!TryGetAttribute(type, out ReadOnlySpan<byte> value))
        {
            return false;
        }
        text = System.Text.Encoding.UTF8.GetString(value);
        return true;
    }

    /// <summary>Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) with <paramref name="key"/>.</summary>
    public bool VerifyMessageIntegrity(ReadOnlySpan<byte> key) =>
        IntegrityOffset >= 0 && StunIntegrity.Verify(Buffer, IntegrityOffset, key, sha256: false);

    /// <summary>Checks MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6) with <paramref name="key"/>.</summary>
    public bool VerifyMessageIntegritySha256(ReadOnlySpan<byte> key) =>
        IntegritySha256Offset >= 0 && StunIntegrity.Verify(Buffer, IntegritySha256Offset, key, sha256: true);

    /// <summary>Checks FINGERPRINT (RFC 8489 §14.7); false if there is none.</summary>
    public bool VerifyFingerprint() =>
        FingerprintOffset >= 0 && StunFingerprint.Compute(Buffer[..FingerprintOffset], Buffer.Length)
        == BinaryPrimitives.ReadUInt32BigEndian(Buffer[(FingerprintOffset + StunConstants.AttributeHeaderLength)..]);
}
