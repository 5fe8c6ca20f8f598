using System.Net;

namespace NatPunch.Traversal;

/// <summary>What an <see cref="IceAgent"/> reports to its driver.</summary>
public abstract record IceEvent
{
    /// <summary>A new local candidate to tell the peer about (trickle).</summary>
    public sealed record CandidateGathered(Candidate Candidate) : IceEvent;

    /// <summary>Every STUN server has answered or timed out.</summary>
    public sealed record GatheringComplete(int CandidateCount) : IceEvent;

    /// <summary>Both sides agreed on a pair: data goes to <paramref name="Remote"/> from now on.</summary>
    public sealed record Selected(Candidate Local, Candidate Remote, TimeSpan RoundTrip) : IceEvent;

    /// <summary>The selected pair stopped answering consent checks (RFC 7675).</summary>
    public sealed record ConsentLost(IPEndPoint Remote, TimeSpan Silence) : IceEvent;

    /// <summary>The selected pair can no longer carry data, for <paramref name="Reason"/> (its local candidate, our relay, is gone).</summary>
    public sealed record PathLost(IPEndPoint Remote, string Reason) : IceEvent;

    /// <summary>No pair could be made to work.</summary>
    public sealed record Failed(string Reason) : IceEvent;
}
