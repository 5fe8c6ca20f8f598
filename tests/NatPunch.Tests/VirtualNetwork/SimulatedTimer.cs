namespace NatPunch.Tests.VirtualNetwork;

/// <summary>An <see cref="ITimer"/> that fires as simulator events (see <see cref="SimulatedTimeProvider"/>).</summary>
internal sealed class SimulatedTimer : ITimer
{
    private readonly Simulator _simulator;
    private readonly TimerCallback _callback;
    private readonly object? _state;
    private TimeSpan _period;
    // Bumped by Change and Dispose: an event scheduled under an older generation is stale.
    private long _generation;
    private bool _disposed;

    public SimulatedTimer(Simulator simulator, TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _simulator = simulator;
        _callback = callback;
        _state = state;
        Change(dueTime, period);
    }

    /// <summary>As <see cref="System.Threading.Timer.Change(TimeSpan, TimeSpan)"/>: infinite due time stops it; zero or infinite period makes it one-shot.</summary>
    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        if (_disposed)
        {
            return false;
        }
        CheckTime(dueTime, nameof(dueTime));
        CheckTime(period, nameof(period));
        _period = period;
        long generation = ++_generation;
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            _simulator.Schedule(dueTime, () => Fire(generation));
        }
        return true;
    }

    public void Dispose()
    {
        _disposed = true;
        _generation++;
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private void Fire(long generation)
    {
        if (generation != _generation)
        {
            return;
        }
        // Scheduled before the callback so that a Change inside the callback wins.
        if (_period > TimeSpan.Zero && _period != Timeout.InfiniteTimeSpan)
        {
            _simulator.Schedule(_period, () => Fire(generation));
        }
        _callback(_state);
    }

    private static void CheckTime(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, "must be non-negative or Timeout.InfiniteTimeSpan");
        }
    }
}
