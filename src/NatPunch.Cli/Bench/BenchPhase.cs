namespace NatPunch.Cli.Bench;

/// <summary>Where a benchmark run is; set by the coordinator, read by every client thread on each iteration.</summary>
internal enum BenchPhase
{
    /// <summary>Load is applied but nothing is counted.</summary>
    WarmUp,
    /// <summary>Requests sent now are counted, and so are their answers.</summary>
    Measuring,
    /// <summary>No new requests; wait for the answers of counted requests still outstanding.</summary>
    Draining,
    /// <summary>Threads exit.</summary>
    Done,
}

/// <summary>The shared phase, written by one thread and read by many without locks.</summary>
internal sealed class BenchPhaseSignal
{
    private volatile BenchPhase _phase = BenchPhase.WarmUp;

    public BenchPhase Current => _phase;

    public void Enter(BenchPhase phase) => _phase = phase;
}
