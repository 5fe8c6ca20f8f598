namespace NatPunch.Streams;

/// <summary>Flag bits of a stream segment (docs/stream-protocol.md, "Header").</summary>
[Flags]
public enum StreamSegmentFlags : byte
{
    None = 0,

    /// <summary>End of stream: the sender's stream ends after this segment's payload; the FIN occupies one sequence number.</summary>
    Fin = 0x01,

    /// <summary>Abort: the payload is a 32-bit reset code and an optional UTF-8 reason. Never answered, never acknowledged.</summary>
    Reset = 0x02,

    /// <summary>Selective acknowledgment blocks follow the fixed header (RFC 2018 semantics).</summary>
    Sack = 0x04,
}
