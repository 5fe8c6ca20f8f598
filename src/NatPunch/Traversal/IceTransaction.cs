using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Traversal;

/// <summary>An outstanding STUN request of the agent and its retransmission schedule.</summary>
internal sealed class IceTransaction
{
    public required TransactionId Id { get; init; }
    public required IceTransactionKind Kind { get; init; }
    public required IPEndPoint Destination { get; init; }
    public required byte[] Request { get; init; }
    public CandidatePair? Pair { get; init; }
    /// <summary>Sent through our TURN allocation rather than straight from the socket.</summary>
    public bool ViaRelay => Pair?.SendsViaRelay == true;
    public bool UseCandidate { get; init; }
    /// <summary>The request claimed the controlling role (ICE-CONTROLLING) rather than the controlled one.</summary>
    public bool SentAsControlling { get; init; }
    public required TimeSpan FirstSentAt { get; init; }
    public required TimeSpan Deadline { get; init; }
    public required TimeSpan Interval { get; set; }
    public required TimeSpan NextSendAt { get; set; }
    public int Sends { get; set; } = 1;
    public TimeSpan LastSentAt { get; set; }
}

internal enum IceTransactionKind
{
    /// <summary>Binding to a STUN server for a server-reflexive candidate.</summary>
    Gather,
    /// <summary>Connectivity check on a pair (RFC 8445 §7.2.4).</summary>
    Check,
    /// <summary>Consent freshness check on the selected pair (RFC 7675).</summary>
    Consent,
}
