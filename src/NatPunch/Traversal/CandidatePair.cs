namespace NatPunch.Traversal;

/// <summary>States of a pair in the check list (RFC 8445 §6.1.2.6).</summary>
public enum CandidatePairState
{
    Waiting,
    InProgress,
    Succeeded,
    Failed,
}

/// <summary>A local and a remote candidate checked together (RFC 8445 §6.1.2).</summary>
public sealed class CandidatePair
{
    public CandidatePair(Candidate local, Candidate remote, bool localIsControlling)
    {
        Local = local;
        Remote = remote;
        UpdatePriority(localIsControlling);
    }

    public Candidate Local { get; }

    public Candidate Remote { get; internal set; }

    /// <summary>Our side is a TURN allocation: what we send goes through the relay.</summary>
    public bool SendsViaRelay => Local.Type == CandidateType.Relayed;

    /// <summary>Either side is a relayed candidate: the path goes through a TURN server.</summary>
    public bool IsRelayed => Local.IsRelayed || Remote.IsRelayed;

    /// <summary>A TCP connection punched to the peer carries this pair.</summary>
    public bool IsTcp => Local.IsTcp;

    /// <summary>How what the agent sends on this pair leaves.</summary>
    internal IceRoute Route => SendsViaRelay ? IceRoute.Relay : IsTcp ? IceRoute.Tcp : IceRoute.Socket;

    public ulong Priority { get; private set; }

    public CandidatePairState State { get; set; } = CandidatePairState.Waiting;

    /// <summary>The peer asked (USE-CANDIDATE) to use this pair; we select it once our own check succeeds.</summary>
    public bool NominatedByPeer { get; set; }

    /// <summary>We sent USE-CANDIDATE on this pair.</summary>
    public bool Nominating { get; set; }

    /// <summary>When checks on this pair started; they fail after the check timeout.</summary>
    public TimeSpan? FirstCheckAt { get; set; }

    public TimeSpan? RoundTrip { get; set; }

    /// <summary>
    /// Pair priority = 2^32 × MIN(G, D) + 2 × MAX(G, D) + (G > D ? 1 : 0), where G is the
    /// controlling agent's candidate priority and D the controlled one's (RFC 8445 §6.1.2.3).
    /// </summary>
    public void UpdatePriority(bool localIsControlling)
    {
        ulong g = localIsControlling ? Local.Priority : Remote.Priority;
        ulong d = localIsControlling ? Remote.Priority : Local.Priority;
        Priority = (Math.Min(g, d) << 32) + 2 * Math.Max(g, d) + (g > d ? 1ul : 0ul);
    }

    public override string ToString() => $"{Local} -> {Remote} [{State}]";
}
