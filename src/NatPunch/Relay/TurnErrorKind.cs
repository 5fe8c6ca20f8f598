namespace NatPunch.Relay;

/// <summary>Why a TURN request failed, in the terms a caller acts on.</summary>
public enum TurnErrorKind
{
    /// <summary>No response after all retransmissions: the server is unreachable (RFC 8489 §6.2.1).</summary>
    Timeout,
    /// <summary>401 to a request that carried MESSAGE-INTEGRITY (or 441): the username or password is wrong (RFC 8489 §9.2.5).</summary>
    WrongCredentials,
    /// <summary>403: the server refuses this peer address (RFC 8656 §9.1).</summary>
    Forbidden,
    /// <summary>486 Allocation Quota Reached (RFC 8656 §7.2).</summary>
    QuotaReached,
    /// <summary>508 Insufficient Capacity (RFC 8656 §7.2).</summary>
    InsufficientCapacity,
    /// <summary>437 Allocation Mismatch: the server has no (or another) allocation for this 5-tuple (RFC 8656 §7).</summary>
    AllocationMismatch,
    /// <summary>440 or 443: the address family is not supported (RFC 8656 §7.2, §9.1).</summary>
    AddressFamily,
    /// <summary>438 Stale Nonce, more often than <see cref="TurnClientOptions.MaxStaleNonceRetries"/>.</summary>
    StaleNonce,
    /// <summary>A success response without the attributes it must carry.</summary>
    MalformedResponse,
    /// <summary>Another error code.</summary>
    Other,
}
