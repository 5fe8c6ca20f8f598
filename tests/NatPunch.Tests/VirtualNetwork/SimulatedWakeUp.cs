namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// The one pending wake-up of a core driven from the simulation: moved whenever the core's
/// next wake-up changes. The simulator cannot unschedule, so each replacement bumps a generation
/// and a queued wake-up of an older generation does nothing when its time comes.
/// </summary>
internal sealed class SimulatedWakeUp(Simulator simulator, Action onDue)
{
    private long _generation;
    private TimeSpan? _scheduled;

    /// <summary>Wakes at <paramref name="next"/> (none when null), replacing the wake-up scheduled before.</summary>
    public void Reschedule(TimeSpan? next)
    {
        if (next == _scheduled)
        {
            return;
        }
        _scheduled = next;
        long generation = ++_generation;
        if (next is not TimeSpan at)
        {
            return;
        }
        simulator.ScheduleAt(at, () =>
        {
            if (generation != _generation)
            {
                return;
            }
            _scheduled = null;
            onDue();
        });
    }

    /// <summary>Makes the wake-up already queued stale.</summary>
    public void Cancel() => _generation++;
}
