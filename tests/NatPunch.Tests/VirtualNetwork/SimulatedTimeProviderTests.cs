namespace NatPunch.Tests.VirtualNetwork;

/// <summary>Code written against <see cref="TimeProvider"/> sees simulated time and simulated timers.</summary>
public class SimulatedTimeProviderTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void ClockAndTimestampsFollowTheSimulation()
    {
        var sim = new Simulator();
        TimeProvider time = sim.TimeProvider;
        long start = time.GetTimestamp();
        time.GetUtcNow().ShouldBe(SimulatedTimeProvider.Epoch);

        sim.RunFor(TimeSpan.FromSeconds(90));

        time.GetUtcNow().ShouldBe(SimulatedTimeProvider.Epoch + TimeSpan.FromSeconds(90));
        time.GetElapsedTime(start).ShouldBe(TimeSpan.FromSeconds(90));
        time.LocalTimeZone.ShouldBe(TimeZoneInfo.Utc);
    }

    [Fact]
    public void AOneShotTimerFiresOnceAtItsDueTime()
    {
        var sim = new Simulator();
        var fired = new List<TimeSpan>();
        using ITimer timer = sim.TimeProvider.CreateTimer(_ => fired.Add(sim.Now), null, 250 * Ms, Timeout.InfiniteTimeSpan);

        sim.RunFor(TimeSpan.FromSeconds(2));

        fired.ShouldBe([250 * Ms]);
    }

    [Fact]
    public void APeriodicTimerRepeatsUntilDisposed()
    {
        var sim = new Simulator();
        var fired = new List<TimeSpan>();
        ITimer timer = sim.TimeProvider.CreateTimer(_ => fired.Add(sim.Now), null, 100 * Ms, 300 * Ms);

        sim.RunFor(TimeSpan.FromMilliseconds(1000));
        timer.Dispose();
        sim.RunFor(TimeSpan.FromSeconds(5));

        fired.ShouldBe([100 * Ms, 400 * Ms, 700 * Ms, 1000 * Ms]);
        timer.Change(TimeSpan.Zero, TimeSpan.Zero).ShouldBeFalse();
    }

    [Fact]
    public void ChangeReplacesTheScheduleAndInfiniteStopsIt()
    {
        var sim = new Simulator();
        var fired = new List<TimeSpan>();
        ITimer timer = sim.TimeProvider.CreateTimer(_ => fired.Add(sim.Now), null, 100 * Ms, Timeout.InfiniteTimeSpan);

        timer.Change(500 * Ms, Timeout.InfiniteTimeSpan).ShouldBeTrue();
        sim.RunFor(TimeSpan.FromSeconds(1));
        timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        sim.RunFor(TimeSpan.FromSeconds(1));

        fired.ShouldBe([500 * Ms]);
    }

    [Fact]
    public void ACallbackMayRescheduleItsOwnTimer()
    {
        var sim = new Simulator();
        var fired = new List<TimeSpan>();
        ITimer? timer = null;
        timer = sim.TimeProvider.CreateTimer(_ =>
        {
            fired.Add(sim.Now);
            timer!.Change(fired.Count * 100 * Ms, Timeout.InfiniteTimeSpan); // back-off: 100, 200, 300 ms
        }, null, TimeSpan.Zero, Timeout.InfiniteTimeSpan);

        sim.RunFor(TimeSpan.FromMilliseconds(650));

        fired.ShouldBe([TimeSpan.Zero, 100 * Ms, 300 * Ms, 600 * Ms]);
    }

    [Fact]
    public void CancellationTokenSourceCancelsAfterSimulatedTime()
    {
        var sim = new Simulator();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30), sim.TimeProvider);

        sim.RunFor(TimeSpan.FromSeconds(29));
        cts.IsCancellationRequested.ShouldBeFalse();
        sim.RunFor(TimeSpan.FromSeconds(1));
        cts.IsCancellationRequested.ShouldBeTrue();
    }
}
