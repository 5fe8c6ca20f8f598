using NatPunch.Security;
using NatPunch.Streams;

namespace NatPunch.Session;

/// <summary>
/// What a <see cref="StreamMux"/> sends through: the session's sealed data path (<see cref="PeerLink"/>;
/// tests use an in-memory pair). Called from any thread; must not block, except that on a TCP path
/// <see cref="SendSegments"/> waits while a megabyte waits for TCP already (TCP's own back-pressure).
/// Sends while there is no path are dropped, as any datagram may be.
/// </summary>
internal interface IStreamMuxHost
{
    /// <summary>Seals and sends a turn's stream segments, together where the path allows (UDP GSO).</summary>
    void SendSegments(SegmentBatch batch);

    /// <summary>Seals and sends one session message (stream limits, datagrams).</summary>
    void SendMessage(SessionMessageType type, ReadOnlySpan<byte> body);

    /// <summary>The largest datagram body the current path carries in one packet.</summary>
    int MaxDatagramSize { get; }
}
