namespace NatPunch.Forwarding;

/// <summary>The exposing side's answer to a forwarded stream (docs/port-forwarding.md).</summary>
public enum ForwardingStatus : byte
{
    /// <summary>Connected to the target: bytes flow both ways from now on.</summary>
    Connected = 0,

    /// <summary>The target refused the connection (nothing listens there).</summary>
    Refused = 1,

    /// <summary>The target's host or network cannot be reached.</summary>
    Unreachable = 2,

    /// <summary>The target did not answer in time.</summary>
    TimedOut = 3,

    /// <summary>The stream did not start with a forwarding request this side understands.</summary>
    BadRequest = 4,

    /// <summary>Any other failure to connect; the reason says which.</summary>
    Failed = 5,
}
