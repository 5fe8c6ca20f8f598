namespace NatPunch.Core;

/// <summary>Combining the wake-up times of <see cref="IDatagramCore.NextWakeUp"/>: null means "none".</summary>
internal static class WakeUpTime
{
    /// <summary>The earlier of two wake-ups; either may be null (no wake-up wanted).</summary>
    public static TimeSpan? Earliest(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : (a < b ? a : b);
}
