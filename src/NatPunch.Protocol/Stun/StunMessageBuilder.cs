using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// Writes a STUN message into a caller's buffer, attribute by attribute, keeping the header
/// length current so integrity and fingerprint can be appended at any point (RFC 8489 §14.5–§14.7).
/// The buffer must be large enough; running past it is a programming error and throws.
/// </summary>
public ref struct StunMessageBuilder
{
    private readonly Span<byte> _buffer;
    private int _length;

    /// <summary>Starts an RFC 8489 message with the magic cookie.</summary>
    public StunMessageBuilder(Span<byte> buffer, StunMessageType type, TransactionId transactionId)
        : this(buffer, type.Value, StunConstants.MagicCookie, transactionId)
    {
    }

    /// <summary>
    /// Starts a message with an explicit value in the cookie field: the magic cookie, or for an
    /// answer to an RFC 3489 client, the first 32 bits of its 128-bit transaction id.
    /// </summary>
    public StunMessageBuilder(Span<byte> buffer, ushort rawType, uint cookieField, TransactionId transactionId)
    {
        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, rawType);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], cookieField);
        transactionId.WriteTo(buffer[8..]);
        _length = StunConstants.HeaderLength;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _length;

    /// <summary>The message as written so far.</summary>
    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    /// <summary>Header bytes 4–19, the XOR key for address attributes.</summary>
    private readonly ReadOnlySpan<byte> CookieAndTransactionId => _buffer.Slice(4, 16);

    /// <summary>Reserves an attribute of <paramref name="valueLength"/> bytes and returns its value to fill in.</summary>
    public Span<byte> AddAttribute(ushort type, int valueLength)
    {
        int padded = (valueLength + 3) & ~3;
        Span<byte> attribute = _buffer.Slice(_length, StunConstants.AttributeHeaderLength + padded);
        BinaryPrimitives.WriteUInt16BigEndian(attribute, type);
        BinaryPrimitives.WriteUInt16BigEndian(attribute[2..], (ushort)valueLength);
        // Padding bytes are zero so that a message never leaks old buffer contents.
        attribute[(StunConstants.AttributeHeaderLength + valueLength)..].Clear();
        _length += attribute.Length;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(_length - StunConstants.HeaderLength));
        return attribute.Slice(StunConstants.AttributeHeaderLength, valueLength);
    }

    public void AddBytes(ushort type, scoped ReadOnlySpan<byte> value) => value.CopyTo(AddAttribute(type, value.Length));

    public void AddEmpty(ushort type) => AddAttribute(type, 0);

    public void AddUInt32(ushort type, uint value) => BinaryPrimitives.WriteUInt32BigEndian(AddAttribute(type, 4), value);

    public void AddUInt64(ushort type, ulong value) => BinaryPrimitives.WriteUInt64BigEndian(AddAttribute(type, 8), value);

    /// <summary>A UTF-8 text attribute (USERNAME, REALM, NONCE, SOFTWARE).</summary>
    public void AddString(ushort type, scoped ReadOnlySpan<char> text) =>
        Encoding.UTF8.GetBytes(text, AddAttribute(type, Encoding.UTF8.GetByteCount(text)));

    public void AddAddress(ushort type, IPEndPoint endPoint)
    {
        Span<byte> address = stackalloc byte[16];
        int length = StunAddressCodec.GetAddressBytes(endPoint.Address, address);
        AddAddress(type, address[..length], endPoint.Port);
    }

    public void AddAddress(ushort type, scoped ReadOnlySpan<byte> address, int port) =>
        StunAddressCodec.Write(AddAttribute(type, StunAddressCodec.ValueLength(address.Length)), address, port);

    public void AddXorAddress(ushort type, IPEndPoint endPoint)
    {
        Span<byte> address = stackalloc byte[16];
        int length = StunAddressCodec.GetAddressBytes(endPoint.Address, address);
        AddXorAddress(type, address[..length], endPoint.Port);
    }

    public void AddXorAddress(ushort type, scoped ReadOnlySpan<byte> address, int port)
    {
        Span<byte> value = AddAttribute(type, StunAddressCodec.ValueLength(address.Length));
        StunAddressCodec.WriteXor(value, address, port, CookieAndTransactionId);
    }

    public void AddErrorCode(int code, string? reason = null)
    {
        reason ??= StunErrorCode.DefaultReason(code);
        StunErrorCode.Write(AddAttribute(StunAttributeType.ErrorCode, StunErrorCode.ValueLength(reason)), code, reason);
    }

    /// <summary>UNKNOWN-ATTRIBUTES (RFC 8489 §14.9): a list of 16-bit types.</summary>
    public void AddUnknownAttributes(scoped ReadOnlySpan<ushort> types)
    {
        Span<byte> value = AddAttribute(StunAttributeType.UnknownAttributes, types.Length * 2);
        for (int i = 0; i < types.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(value[(i * 2)..], types[i]);
        }
    }

    /// <summary>Appends MESSAGE-INTEGRITY (HMAC-SHA1) keyed with <paramref name="key"/> (RFC 8489 §14.5).</summary>
    public void AddMessageIntegrity(scoped ReadOnlySpan<byte> key)
    {
        int offset = _length;
        Span<byte> value = AddAttribute(StunAttributeType.MessageIntegrity, StunConstants.MessageIntegrityLength);
        StunIntegrity.Compute(_buffer, offset, StunConstants.MessageIntegrityLength, key, sha256: false, value);
    }

    /// <summary>Appends MESSAGE-INTEGRITY-SHA256 with the full 32-byte HMAC (RFC 8489 §14.6).</summary>
    public void AddMessageIntegritySha256(scoped ReadOnlySpan<byte> key)
    {
        int offset = _length;
        Span<byte> value = AddAttribute(StunAttributeType.MessageIntegritySha256, StunConstants.MessageIntegritySha256Length);
        StunIntegrity.Compute(_buffer, offset, StunConstants.MessageIntegritySha256Length, key, sha256: true, value);
    }

    /// <summary>Appends FINGERPRINT; nothing may follow it (RFC 8489 §14.7).</summary>
    public void AddFingerprint()
    {
        int offset = _length;
        Span<byte> value = AddAttribute(StunAttributeType.Fingerprint, 4);
        BinaryPrimitives.WriteUInt32BigEndian(value, StunFingerprint.Compute(_buffer[..offset], _length));
    }
}
