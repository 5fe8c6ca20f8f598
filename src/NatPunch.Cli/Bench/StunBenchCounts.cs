namespace NatPunch.Cli.Bench;

/// <summary>What one client counted during the measured period; plain fields, owned by the client's thread until it ends.</summary>
internal sealed class StunBenchCounts
{
    /// <summary>Requests sent during the measured period.</summary>
    public long Sent;

    /// <summary>Valid, matching answers to those requests.</summary>
    public long Responses;

    /// <summary>Requests of the measured period unanswered within the timeout.</summary>
    public long Lost;

    /// <summary>Answers that came after their request had timed out (already counted lost).</summary>
    public long Late;

    /// <summary>Datagrams that were not a valid Binding success for one of our requests.</summary>
    public long Invalid;

    public long SendErrors;

    public long ReceiveErrors;

    public void Add(StunBenchCounts other)
    {
        Sent += other.Sent;
        Responses += other.Responses;
        Lost += other.Lost;
        Late += other.Late;
        Invalid += other.Invalid;
        SendErrors += other.SendErrors;
        ReceiveErrors += other.ReceiveErrors;
    }
}
