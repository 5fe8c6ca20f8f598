namespace NatPunch.Streams;

/// <summary>
/// The fixed fields of a stream segment, all sequence-like values truncated to their low 32 bits
/// (the receiver widens them against its own 64-bit state; see docs/stream-protocol.md).
/// </summary>
/// <param name="StreamId">Which stream of the session this segment belongs to.</param>
/// <param name="Flags">FIN, RST, SACK.</param>
/// <param name="Sequence">Byte offset of the first payload byte (of the FIN slot when there is no payload).</param>
/// <param name="Acknowledgment">Cumulative acknowledgment: the next byte offset the sender of this segment expects.</param>
/// <param name="Window">Bytes the sender of this segment can still accept beyond <paramref name="Acknowledgment"/>.</param>
/// <param name="TimestampValue">Sender's clock in microseconds (RFC 7323 §3 TSval).</param>
/// <param name="TimestampEcho">The peer's most recent relevant TSval (RFC 7323 §4.3 TSecr).</param>
public readonly record struct StreamSegmentHeader(
    uint StreamId,
    StreamSegmentFlags Flags,
    uint Sequence,
    uint Acknowledgment,
    uint Window,
    uint TimestampValue,
    uint TimestampEcho);
