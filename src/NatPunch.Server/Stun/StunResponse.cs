namespace NatPunch.Server.Stun;

/// <summary>What to do with one incoming datagram: send nothing, or send a response from one of the server's addresses.</summary>
public readonly record struct StunResponse(int Length, int SendFromIndex, int DestinationPort, StunDropReason Dropped)
{
    public static StunResponse Drop(StunDropReason reason) => new(0, 0, 0, reason);

    public bool HasResponse => Length > 0;
}

/// <summary>Why a datagram was not answered; each reason is counted.</summary>
public enum StunDropReason : byte
{
    None = 0,
    /// <summary>Did not parse as STUN (see <see cref="NatPunch.Protocol.Stun.StunParseErrorKind"/>).</summary>
    Malformed,
    /// <summary>FINGERPRINT present but wrong (RFC 8489 §7.3).</summary>
    BadFingerprint,
    /// <summary>A response or an indication: nothing to answer.</summary>
    NotARequest,
    /// <summary>
    /// An RFC 3489 CHANGE-REQUEST this server cannot honour (no alternate address, or over TCP): left
    /// unanswered on purpose, which such a client reads as "filtered".
    /// </summary>
    ChangeNotPossible,
}
