namespace NatPunch.Streams;

/// <summary>
/// One selective-acknowledgment block as carried on the wire: the low 32 bits of the first byte
/// received and of the byte after the last (RFC 2018 §3, "Left Edge"/"Right Edge").
/// </summary>
public readonly record struct SackBlock(uint Start, uint End);
