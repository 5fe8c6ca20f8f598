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
    /// <summary>A 4-byte count of streams the peer may open in all (QUIC's MAX_STREAMS, RFC 9000 §19.11).</summary>
    MaxStreams = 5,
    /// <summary>The sender is blocked at the 4-byte count it was given and asks for the current one (RFC 9000 §19.14).</summary>
    StreamsBlocked = 6,
    /// <summary>An application datagram: unreliable, unordered, the body as given.</summary>
    Datagram = 7,
    /// <summary>An 8-byte probe id that the peer echoes at once in a <see cref="Pong"/> (natpunch ping).</summary>
    Ping = 8,
    Pong = 9,
}
