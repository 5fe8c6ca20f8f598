using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.Traversal;

/// <summary>
/// An outstanding STUN request of the agent: what it is for, and its retransmission schedule, a
/// <see cref="StunClientTransaction"/> like every other STUN request of the client (gathering,
/// checks and consent here, TURN in <c>TurnClientCore</c>). The agent matches responses itself
/// (it checks their integrity with the pair's credentials); the transaction only says when to send.
/// </summary>
internal sealed class IceTransaction
{
    public required TransactionId Id { get; init; }
    public required IceTransactionKind Kind { get; init; }
    public required IPEndPoint Destination { get; init; }
    public required StunClientTransaction Schedule { get; init; }
    public CandidatePair? Pair { get; init; }
    /// <summary>How it is sent: straight from the socket (gathering too), through our TURN allocation, or on a TCP connection.</summary>
    public IceRoute Route => Pair?.Route ?? IceRoute.Socket;
    public bool UseCandidate { get; init; }
    /// <summary>The request claimed the controlling role (ICE-CONTROLLING) rather than the controlled one.</summary>
    public bool SentAsControlling { get; init; }

    /// <summary>
    /// A schedule for <paramref name="request"/>: first retransmission after <paramref name="initial"/>,
    /// doubling up to <paramref name="cap"/>, as many sends as fit before <paramref name="giveUpAt"/>.
    /// </summary>
    public static StunClientTransaction Scheduled(byte[] request, TimeSpan initial, TimeSpan cap, TimeSpan giveUpAt) =>
        new(request, new StunRetransmissionOptions
        {
            InitialRto = initial,
            MaxRto = cap > initial ? cap : initial,
            MaxSends = int.MaxValue,
            FinalWaitMultiplier = 0,
        })
        {
            GiveUpAt = giveUpAt,
        };
}

internal enum IceTransactionKind
{
    /// <summary>Binding to a STUN server for a server-reflexive candidate.</summary>
    Gather,
    /// <summary>Binding to the STUN server's other address: does our mapping change with the destination?</summary>
    MappingTest,
    /// <summary>Connectivity check on a pair (RFC 8445 §7.2.4).</summary>
    Check,
    /// <summary>Consent freshness check on the selected pair (RFC 7675).</summary>
    Consent,
}
