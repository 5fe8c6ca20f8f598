namespace NatPunch.Streams;

/// <summary>Why <see cref="StreamSegment.TryParse"/> rejected some bytes.</summary>
public enum StreamSegmentParseError
{
    None,

    /// <summary>Shorter than the fixed header, or than the SACK blocks it announces.</summary>
    TooShort,

    /// <summary>The version nibble is not <see cref="StreamSegment.Version"/>.</summary>
    UnsupportedVersion,

    /// <summary>The SACK flag is set with a block count of zero or above <see cref="StreamSegment.MaxSackBlocks"/>.</summary>
    BadSackBlockCount,

    /// <summary>Fewer payload bytes than the header's payload length (a truncated datagram).</summary>
    Truncated,

    /// <summary>More bytes than the header accounts for.</summary>
    TrailingBytes,

    /// <summary>A reset segment whose payload is too short to hold its reset code.</summary>
    BadReset,
}
