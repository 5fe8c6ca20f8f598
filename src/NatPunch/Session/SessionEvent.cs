using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>What a <see cref="PeerSession"/> reports to its driver, in the order it happened.</summary>
internal abstract record SessionEvent
{
    /// <summary>An agent event before the session's paths run (gathering, for the offer); afterwards the path manager takes them.</summary>
    public sealed record Ice(IceEvent Event) : SessionEvent;

    /// <summary>
    /// The agent selected a pair: move data there (<paramref name="Via"/>: through that relay), then
    /// report <see cref="PeerSession.PathMoved"/>; once the session has keys, only after a sealed check on it answered.
    /// </summary>
    public sealed record Selected(IceEvent.Selected Selection, RelayAttempt? Via) : SessionEvent;

    /// <summary>Round 0's checks are under way on this many pairs.</summary>
    public sealed record Punching(int Pairs) : SessionEvent;

    /// <summary>A path manager event; <paramref name="PairsTried"/> is the agent's pair count, for a failure's message.</summary>
    public sealed record Path(PathEvent Event, int PairsTried) : SessionEvent;

    /// <summary>Run the handshake on the selected path and report its outcome (<see cref="PeerSession.HandleHandshake"/>).</summary>
    public sealed record StartHandshake : SessionEvent;

    /// <summary>Send this to the peer through the rendezvous; <paramref name="Plain"/>: it may go unsealed (a candidate while the peer may still lack keys).</summary>
    public sealed record Signal(RendezvousMessage Message, bool Plain) : SessionEvent;

    /// <summary>The relay's life, for the driver's connections and data targets (<see cref="RelayEvent.Started"/>, <see cref="RelayEvent.Discarded"/>, <see cref="RelayEvent.ChannelBound"/>, <see cref="RelayEvent.StatusChanged"/>).</summary>
    public sealed record Relay(RelayEvent Event) : SessionEvent;

    /// <summary>A session datagram that came through the relay as a Data indication: for the driver's data path.</summary>
    public sealed record RelayedSessionDatagram(RelayAttempt Via, IPEndPoint Peer, ReadOnlyMemory<byte> Payload) : SessionEvent;

    /// <summary>Something came through the relay that is neither STUN for the agent nor a session datagram.</summary>
    public sealed record Stray : SessionEvent;
}
