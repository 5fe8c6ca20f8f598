using System.Net;
using NatPunch.Relay;

namespace NatPunch.Session;

/// <summary>What <see cref="RelayLifecycle"/> asks of its driver and its agent, in the order it happened.</summary>
internal abstract record RelayEvent
{
    /// <summary>
    /// A new attempt needs a way to its server. Over UDP that is the session's socket; over TCP open a
    /// connection, then report <see cref="RelayLifecycle.Connected"/> or <see cref="RelayLifecycle.AttemptFailed"/>.
    /// </summary>
    public sealed record Started(RelayAttempt Attempt) : RelayEvent;

    /// <summary>The attempt is no longer needed (a new round began): close its connection once what it queued is sent.</summary>
    public sealed record Discarded(RelayAttempt Attempt) : RelayEvent;

    /// <summary>The relay was granted, lost or cannot be had: for whoever reports progress.</summary>
    public sealed record StatusChanged(RelayStatus Status) : RelayEvent;

    /// <summary>Give the agent this relayed candidate (a grant, or a quiet relay that answered).</summary>
    public sealed record CandidateReady(RelayAllocation Allocation) : RelayEvent;

    /// <summary>Take this relayed candidate from the agent: the allocation is gone.</summary>
    public sealed record CandidateWithdrawn(IPEndPoint Relayed, string Reason) : RelayEvent;

    /// <summary>Data for <paramref name="Peer"/> may now go as ChannelData on <paramref name="Channel"/>, straight from the sender.</summary>
    public sealed record ChannelBound(RelayAttempt Attempt, IPEndPoint Peer, ushort Channel) : RelayEvent;

    /// <summary>A peer's datagram came through the relay (a Data indication, or ChannelData the data path did not take).</summary>
    public sealed record Received(RelayAttempt Attempt, IPEndPoint Peer, ReadOnlyMemory<byte> Payload) : RelayEvent;
}
