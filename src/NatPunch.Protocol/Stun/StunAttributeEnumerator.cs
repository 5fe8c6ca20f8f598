using System.Buffers.Binary;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// Walks the attributes of an already validated message, allocation-free. It stops at
/// the first attribute to ignore, so attributes after MESSAGE-INTEGRITY that must
/// be ignored (RFC 8489 §14.5) are never seen.
/// </summary>
public ref struct StunAttributeEnumerator
{
    private readonly ReadOnlySpan<byte> _message;
    private readonly int _end;
    private int _next;
    private StunAttribute _current;

    internal StunAttributeEnumerator(ReadOnlySpan<byte> message, int end)
    {
        _message = message;
        _end = end;
        _next = StunConstants.HeaderLength;
        _current = default;
    }

    public readonly StunAttribute Current => _current;

    public readonly StunAttributeEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_next + StunConstants.AttributeHeaderLength > _end)
        {
            return false;
        }
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(_message[_next..]);
        int length = BinaryPrimitives.ReadUInt16BigEndian(_message[(_next + 2)..]);
        _current = new StunAttribute(type, _message.Slice(_next + StunConstants.AttributeHeaderLength, length), _next);
        _next += StunConstants.AttributeHeaderLength + Padded(length);
        return true;
    }

    internal static int Padded(int length) => (length + 3) & ~3;
}
