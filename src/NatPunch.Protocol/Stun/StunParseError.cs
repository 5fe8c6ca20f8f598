namespace NatPunch.Protocol.Stun;

/// <summary>What was wrong with bytes that did not parse as a STUN message.</summary>
public enum StunParseErrorKind : byte
{
    None = 0,
    /// <summary>Fewer than 20 bytes.</summary>
    TooShort,
    /// <summary>The two most significant bits are not zero: not STUN (RFC 8489 §5).</summary>
    NotStun,
    /// <summary>The header's length is not a multiple of 4 (RFC 8489 §5).</summary>
    LengthNotMultipleOfFour,
    /// <summary>The header's length disagrees with the number of bytes.</summary>
    LengthMismatch,
    /// <summary>An attribute header or value runs past the end of the message.</summary>
    AttributeTruncated,
    /// <summary>FINGERPRINT is not the last attribute (RFC 8489 §14.7).</summary>
    FingerprintNotLast,
    /// <summary>MESSAGE-INTEGRITY or FINGERPRINT has the wrong length.</summary>
    BadAttributeLength,
}

/// <summary>A parse failure: what was wrong and at which byte offset.</summary>
public readonly record struct StunParseError(StunParseErrorKind Kind, int Offset)
{
    public static readonly StunParseError None = new(StunParseErrorKind.None, 0);

    public override string ToString() => $"{Kind} at byte {Offset}";
}
