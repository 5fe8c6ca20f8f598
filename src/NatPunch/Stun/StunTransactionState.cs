namespace NatPunch.Stun;

/// <summary>Where a <see cref="StunClientTransaction"/> is in its life (RFC 8489 §6.2–§6.3).</summary>
public enum StunTransactionState : byte
{
    /// <summary>Created; the first <see cref="StunClientTransaction.Poll"/> sends the request.</summary>
    NotStarted,
    /// <summary>Sent at least once; waiting for a response or the next retransmission.</summary>
    Waiting,
    /// <summary>A matching success or error response arrived (RFC 8489 §6.3.3–§6.3.4).</summary>
    Completed,
    /// <summary>No response within the retransmission schedule (RFC 8489 §6.2.1) or the TCP timeout (§6.2.2).</summary>
    TimedOut,
}
