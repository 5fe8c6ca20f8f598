namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A <see cref="TimeProvider"/> whose clock is the simulator's and whose timers are simulator events,
/// so that code written against <see cref="TimeProvider"/> (drivers, keep-alive timers) runs inside
/// the simulation. Timer callbacks run synchronously on the simulation loop at their due time.
/// </summary>
/// <remarks>
/// Continuations of awaited tasks (<c>await Task.Delay(d, provider)</c>) may be queued to the thread
/// pool by the runtime and so escape the simulation's ordering; prefer cores and synchronous callbacks.
/// </remarks>
public sealed class SimulatedTimeProvider : TimeProvider
{
    /// <summary>What <see cref="GetUtcNow"/> returns at simulated time zero.</summary>
    public static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly Simulator _simulator;

    internal SimulatedTimeProvider(Simulator simulator) => _simulator = simulator;

    public override DateTimeOffset GetUtcNow() => Epoch + _simulator.Now;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>One tick per 100 ns, so timestamps convert to <see cref="TimeSpan"/> exactly.</summary>
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _simulator.Now.Ticks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return new SimulatedTimer(_simulator, callback, state, dueTime, period);
    }
}
