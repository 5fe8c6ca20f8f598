namespace NatPunch.Protocol.Stun;

/// <summary>The class of a STUN message, encoded in bits C1 and C0 of the type (RFC 8489 §5).</summary>
public enum StunClass : byte
{
    Request = 0b00,
    Indication = 0b01,
    SuccessResponse = 0b10,
    ErrorResponse = 0b11,
}
