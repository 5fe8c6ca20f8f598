using System.Buffers.Binary;
using System.Text;

namespace NatPunch.Streams;

/// <summary>
/// A read-only view over one stream segment (docs/stream-protocol.md). <see cref="TryParse"/>
/// validates the layout once and never throws; the accessors then read from the buffer.
/// </summary>
/// <remarks>
/// Layout (big-endian): version/reserved (1), flags (1), payload length (2), stream id (4),
/// sequence (4), acknowledgment (4), window (4), TSval (4), TSecr (4) = <see cref="HeaderSize"/>
/// bytes; then, with <see cref="StreamSegmentFlags.Sack"/>, a block count (1) and that many
/// (start, end) pairs (8 each); then exactly "payload length" bytes of payload.
/// </remarks>
public readonly ref struct StreamSegment
{
    /// <summary>Format version carried in the high nibble of the first byte.</summary>
    public const byte Version = 1;

    /// <summary>Size of the fixed header.</summary>
    public const int HeaderSize = 28;

    /// <summary>Size of one SACK block on the wire.</summary>
    public const int SackBlockSize = 8;

    /// <summary>Most SACK blocks one segment may carry.</summary>
    public const int MaxSackBlocks = 16;

    /// <summary>Size of the reset code at the start of a reset segment's payload.</summary>
    public const int ResetCodeSize = 4;

    private readonly ReadOnlySpan<byte> _bytes;
    private readonly int _payloadOffset;

    private StreamSegment(ReadOnlySpan<byte> bytes, int sackBlockCount, int payloadOffset)
    {
        _bytes = bytes;
        SackBlockCount = sackBlockCount;
        _payloadOffset = payloadOffset;
    }

    public StreamSegmentFlags Flags => (StreamSegmentFlags)_bytes[1];

    public uint StreamId => BinaryPrimitives.ReadUInt32BigEndian(_bytes[4..]);

    public uint Sequence => BinaryPrimitives.ReadUInt32BigEndian(_bytes[8..]);

    public uint Acknowledgment => BinaryPrimitives.ReadUInt32BigEndian(_bytes[12..]);

    public uint Window => BinaryPrimitives.ReadUInt32BigEndian(_bytes[16..]);

    public uint TimestampValue => BinaryPrimitives.ReadUInt32BigEndian(_bytes[20..]);

    public uint TimestampEcho => BinaryPrimitives.ReadUInt32BigEndian(_bytes[24..]);

    public int SackBlockCount { get; }

    public ReadOnlySpan<byte> Payload => _bytes[_payloadOffset..];

    public bool IsFin => (Flags & StreamSegmentFlags.Fin) != 0;

    public bool IsReset => (Flags & StreamSegmentFlags.Reset) != 0;

    public StreamSegmentHeader Header =>
        new(StreamId, Flags, Sequence, Acknowledgment, Window, TimestampValue, TimestampEcho);

    public SackBlock GetSackBlock(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, SackBlockCount);
        ReadOnlySpan<byte> block = _bytes.Slice(HeaderSize + 1 + index * SackBlockSize, SackBlockSize);
        return new SackBlock(BinaryPrimitives.ReadUInt32BigEndian(block), BinaryPrimitives.ReadUInt32BigEndian(block[4..]));
    }

    /// <summary>The reset code of a <see cref="StreamSegmentFlags.Reset"/> segment.</summary>
    public uint ResetCode => IsReset ? BinaryPrimitives.ReadUInt32BigEndian(Payload) : 0;

    /// <summary>The reset reason of a reset segment; invalid UTF-8 becomes U+FFFD.</summary>
    public string ResetReason => IsReset ? Encoding.UTF8.GetString(Payload[ResetCodeSize..]) : "";

    /// <summary>Reads only the stream id, for a demultiplexer that routes segments to streams.</summary>
    public static bool TryReadStreamId(ReadOnlySpan<byte> bytes, out uint streamId)
    {
        if (bytes.Length < HeaderSize || bytes[0] >> 4 != Version)
        {
            streamId = 0;
            return false;
        }
        streamId = BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]);
        return true;
    }

    public static bool TryParse(ReadOnlySpan<byte> bytes, out StreamSegment segment, out StreamSegmentParseError error)
    {
        segment = default;
        if (bytes.Length < HeaderSize)
        {
            error = StreamSegmentParseError.TooShort;
            return false;
        }
        if (bytes[0] >> 4 != Version)
        {
            error = StreamSegmentParseError.UnsupportedVersion;
            return false;
        }
        var flags = (StreamSegmentFlags)bytes[1];
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        int offset = HeaderSize;
        int sackBlocks = 0;
        if ((flags & StreamSegmentFlags.Sack) != 0)
        {
            if (bytes.Length < offset + 1)
            {
                error = StreamSegmentParseError.TooShort;
                return false;
            }
            sackBlocks = bytes[offset];
            if (sackBlocks is 0 or > MaxSackBlocks)
            {
                error = StreamSegmentParseError.BadSackBlockCount;
                return false;
            }
            offset += 1 + sackBlocks * SackBlockSize;
            if (bytes.Length < offset)
            {
                error = StreamSegmentParseError.TooShort;
                return false;
            }
        }
        int remaining = bytes.Length - offset;
        if (remaining < payloadLength)
        {
            error = StreamSegmentParseError.Truncated;
            return false;
        }
        if (remaining > payloadLength)
        {
            error = StreamSegmentParseError.TrailingBytes;
            return false;
        }
        if ((flags & StreamSegmentFlags.Reset) != 0 && payloadLength < ResetCodeSize)
        {
            error = StreamSegmentParseError.BadReset;
            return false;
        }
        segment = new StreamSegment(bytes, sackBlocks, offset);
        error = StreamSegmentParseError.None;
        return true;
    }

    /// <summary>Bytes a segment with this many SACK blocks and payload bytes occupies.</summary>
    public static int GetLength(int sackBlockCount, int payloadLength) =>
        HeaderSize + (sackBlockCount > 0 ? 1 + sackBlockCount * SackBlockSize : 0) + payloadLength;

    /// <summary>
    /// Writes the header and SACK blocks into <paramref name="destination"/> and returns the offset
    /// at which the caller writes exactly <paramref name="payloadLength"/> payload bytes. The SACK
    /// flag is set from <paramref name="sackBlocks"/>, whatever <see cref="StreamSegmentHeader.Flags"/> says.
    /// </summary>
    public static int WriteHeader(Span<byte> destination, in StreamSegmentHeader header, ReadOnlySpan<SackBlock> sackBlocks, int payloadLength)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sackBlocks.Length, MaxSackBlocks);
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadLength, ushort.MaxValue);
        int length = GetLength(sackBlocks.Length, payloadLength);
        if (destination.Length < length)
        {
            throw new ArgumentException($"Destination holds {destination.Length} bytes; the segment needs {length}.", nameof(destination));
        }
        StreamSegmentFlags flags = header.Flags & ~StreamSegmentFlags.Sack;
        if (sackBlocks.Length > 0)
        {
            flags |= StreamSegmentFlags.Sack;
        }
        destination[0] = Version << 4;
        destination[1] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], header.StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], header.Sequence);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], header.Acknowledgment);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], header.Window);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], header.TimestampValue);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], header.TimestampEcho);
        int offset = HeaderSize;
        if (sackBlocks.Length > 0)
        {
            destination[offset++] = (byte)sackBlocks.Length;
            foreach (SackBlock block in sackBlocks)
            {
                BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], block.Start);
                BinaryPrimitives.WriteUInt32BigEndian(destination[(offset + 4)..], block.End);
                offset += SackBlockSize;
            }
        }
        return offset;
    }

    /// <summary>Writes a complete segment with the given payload; returns its length.</summary>
    public static int Write(Span<byte> destination, in StreamSegmentHeader header, ReadOnlySpan<SackBlock> sackBlocks, ReadOnlySpan<byte> payload)
    {
        int offset = WriteHeader(destination, header, sackBlocks, payload.Length);
        payload.CopyTo(destination[offset..]);
        return offset + payload.Length;
    }
}
