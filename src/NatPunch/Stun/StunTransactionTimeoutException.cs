using System.Net;

namespace NatPunch.Stun;

/// <summary>
/// A STUN request got no response: every retransmission went unanswered (RFC 8489 §6.2.1) or the
/// TCP timeout passed (§6.2.2).
/// </summary>
public sealed class StunTransactionTimeoutException : TimeoutException
{
    public StunTransactionTimeoutException(IPEndPoint destination, int sendCount, TimeSpan waited, bool reliable)
        : base(reliable
            ? $"No STUN response from {destination} over TCP within {waited.TotalSeconds:0.#} s."
            : $"No STUN response from {destination} after {sendCount} sends over {waited.TotalSeconds:0.#} s.")
    {
        Destination = destination;
        SendCount = sendCount;
        Waited = waited;
    }

    public IPEndPoint Destination { get; }

    public int SendCount { get; }

    public TimeSpan Waited { get; }
}
