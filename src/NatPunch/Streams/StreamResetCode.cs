namespace NatPunch.Streams;

/// <summary>
/// Reset codes carried in a RST segment. Values below <see cref="ApplicationBase"/> are the
/// stream layer's own; applications use <c>ApplicationBase + n</c>.
/// </summary>
public enum StreamResetCode : uint
{
    /// <summary>The application aborted the stream.</summary>
    Aborted = 1,

    /// <summary>The stream was disposed before both directions ended cleanly.</summary>
    Disposed = 2,

    /// <summary>Nothing was heard from the peer for <see cref="ReliableStreamOptions.PeerTimeout"/>.</summary>
    PeerUnresponsive = 3,

    /// <summary>The datagram path below failed.</summary>
    TransportFailed = 4,

    /// <summary>The peer broke the protocol (e.g. moved its end of stream).</summary>
    ProtocolViolation = 5,

    ApplicationBase = 0x1000,
}
