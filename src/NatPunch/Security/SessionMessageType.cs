namespace NatPunch.Security;

/// <summary>What a sealed datagram carries (its first plaintext byte).</summary>
public enum SessionMessageType : byte
{
    /// <summary>A stream segment: data, acknowledgement, FIN, reset.</summary>
    Segment = 0,
    /// <summary>The responder checked the initiator's key and takes the session (key confirmation).</summary>
    Accept = 1,
    /// <summary>The responder refuses the initiator's key; the body is the reason in UTF-8.</summary>
    Refuse = 2,
    /// <summary>8 random bytes that the peer must echo on the same path before data moves there (RFC 9000 §8.2's idea).</summary>
    PathChallenge = 3,
    PathResponse = 4,
}
