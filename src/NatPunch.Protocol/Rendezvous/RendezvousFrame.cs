using System.Buffers.Binary;

namespace NatPunch.Protocol.Rendezvous;

/// <summary>
/// Framing of the rendezvous protocol on a TCP connection (docs/rendezvous-protocol.md):
/// a marker byte 0xE0, a version byte, a 16-bit big-endian payload length, then a UTF-8 JSON
/// message. 0xE0 lies outside STUN (0–3), TURN ChannelData (64–79) and TLS (22) first bytes
/// (RFC 7983 §7), so the server tells a rendezvous connection from STUN or TURN by its first byte.
/// </summary>
public static class RendezvousFrame
{
    public const byte Marker = 0xE0;
    public const byte Version = 1;
    public const int HeaderLength = 4;
    public const int MaxPayloadLength = 65535;

    /// <summary>True when a connection starting with <paramref name="firstByte"/> speaks rendezvous.</summary>
    public static bool IsRendezvous(byte firstByte) => firstByte == Marker;

    /// <summary>Outcome of looking for a frame at the start of a receive buffer.</summary>
    public enum Status : byte
    {
        /// <summary>A whole frame is there.</summary>
        Complete,
        /// <summary>More bytes are needed.</summary>
        Incomplete,
        /// <summary>Wrong marker or an unsupported version: close the connection.</summary>
        Invalid,
    }

    /// <summary>Finds one frame; on <see cref="Status.Complete"/> gives its payload and total length.</summary>
    public static Status TryRead(ReadOnlySpan<byte> buffer, out ReadOnlySpan<byte> payload, out int frameLength)
    {
        payload = default;
        frameLength = 0;
        if (buffer.Length >= 1 && buffer[0] != Marker)
        {
            return Status.Invalid;
        }
        if (buffer.Length >= 2 && buffer[1] != Version)
        {
            return Status.Invalid;
        }
        if (buffer.Length < HeaderLength)
        {
            return Status.Incomplete;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        if (buffer.Length < HeaderLength + length)
        {
            return Status.Incomplete;
        }
        payload = buffer.Slice(HeaderLength, length);
        frameLength = HeaderLength + length;
        return Status.Complete;
    }

    /// <summary>Writes the header in front of a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static void WriteHeader(Span<byte> destination, int payloadLength)
    {
        if ((uint)payloadLength > MaxPayloadLength)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadLength), "A rendezvous message is at most 65535 bytes.");
        }
        destination[0] = Marker;
        destination[1] = Version;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
    }
}
