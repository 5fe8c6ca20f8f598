using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>What a <see cref="PeerSession"/> reports to its driver, in the order it happened.</summary>
internal abstract record SessionEvent
{
    /// <summary>Every agent event, as it happens (a selection is acted on by the core: data moves there once it is validated).</summary>
    public sealed record Ice(IceEvent Event) : SessionEvent;

    /// <summary>Stream data goes on <paramref name="Path"/> from now on (the first selection, or one that passed validation).</summary>
    public sealed record DataPath(SessionPath Path) : SessionEvent;

    /// <summary>A selected pair is being validated: what arrives on <paramref name="Path"/> belongs to the session already.</summary>
    public sealed record Validating(SessionPath Path) : SessionEvent;

    /// <summary>Send this session datagram (a handshake frame or a sealed control message) to the peer on <paramref name="Path"/>.</summary>
    public sealed record SendToPeer(SessionPath Path, byte[] Frame) : SessionEvent;

    /// <summary>The handshake yielded the session's keys: sealed datagrams can be opened and sent.</summary>
    public sealed record Keys(Security.SessionCrypto Crypto) : SessionEvent;

    /// <summary>The handshake proved the peer's key: stream data may flow.</summary>
    public sealed record Established : SessionEvent;

    /// <summary>Round 0's checks are under way on this many pairs.</summary>
    public sealed record Punching(int Pairs) : SessionEvent;

    /// <summary>A path manager event; <paramref name="PairsTried"/> is the agent's pair count, for a failure's message.</summary>
    public sealed record PathReport(PathEvent Event, int PairsTried) : SessionEvent;

    /// <summary>Send this to the peer through the rendezvous; <paramref name="Plain"/>: it may go unsealed (a candidate while the peer may still lack keys).</summary>
    public sealed record Signal(RendezvousMessage Message, bool Plain) : SessionEvent;

    /// <summary>The relay's life, for the driver's connections and data targets (<see cref="RelayEvent.Started"/>, <see cref="RelayEvent.Discarded"/>, <see cref="RelayEvent.ChannelBound"/>, <see cref="RelayEvent.StatusChanged"/>).</summary>
    public sealed record Relay(RelayEvent Event) : SessionEvent;

    /// <summary>A session datagram that came through the relay as a Data indication: for the driver's data path.</summary>
    public sealed record RelayedSessionDatagram(RelayAttempt Via, IPEndPoint Peer, ReadOnlyMemory<byte> Payload) : SessionEvent;

    /// <summary>Something came through the relay that is neither STUN for the agent nor a session datagram.</summary>
    public sealed record Stray : SessionEvent;
}
