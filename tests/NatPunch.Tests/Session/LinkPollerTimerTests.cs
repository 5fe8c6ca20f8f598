using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NatPunch.Session;

namespace NatPunch.Tests.Session;

/// <summary>
/// The links' timers on the shared poller (Linux, real epoll): a timer fires once, on the poller's
/// thread, not before its time; setting it again replaces it; one set from another thread for earlier
/// than the poller sleeps still fires on time; a disposed registration's timer never fires.
/// </summary>
public sealed class LinkPollerTimerTests
{
    private static LinkPoller Poller => LinkPoller.Shared ?? throw new InvalidOperationException("the link poller runs on 64-bit Linux only");

    [Fact]
    public async Task ATimerFiresOnceOnThePollerThreadNotBeforeItsTime()
    {
        using var socket = Bound();
        var receiver = new Receiver();
        using LinkPoller.Registration registration = Poller.Add(socket, receiver);
        long due = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20; // 50 ms

        registration.WakeAt(due);

        long firedAt = await receiver.Fired.Task.WaitAsync(TimeSpan.FromSeconds(5));
        firedAt.ShouldBeGreaterThanOrEqualTo(due);
        receiver.Thread!.ShouldStartWith("natpunch link poller");
        await Task.Delay(200);
        receiver.Count.ShouldBe(1);
    }

    [Fact]
    public async Task SettingItAgainReplacesTheEarlierTime()
    {
        using var socket = Bound();
        var receiver = new Receiver();
        using LinkPoller.Registration registration = Poller.Add(socket, receiver);
        long start = Stopwatch.GetTimestamp();

        registration.WakeAt(start + Stopwatch.Frequency / 20);  // 50 ms
        registration.WakeAt(start + Stopwatch.Frequency * 3 / 10); // moved to 300 ms

        long firedAt = await receiver.Fired.Task.WaitAsync(TimeSpan.FromSeconds(5));
        firedAt.ShouldBeGreaterThanOrEqualTo(start + Stopwatch.Frequency * 3 / 10);
        receiver.Count.ShouldBe(1);
    }

    [Fact]
    public async Task AnEarlierTimeSetFromAnotherThreadWakesThePollerInTime()
    {
        using var socket = Bound();
        var receiver = new Receiver();
        using LinkPoller.Registration registration = Poller.Add(socket, receiver);
        await Task.Delay(50); // the poller now sleeps its full wait (500 ms) with no timer due

        long due = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 50; // 20 ms
        registration.WakeAt(due);

        long firedAt = await receiver.Fired.Task.WaitAsync(TimeSpan.FromSeconds(5));
        // Not at the end of the poller's sleep (500 ms), but near its time; generous for a loaded machine.
        TimeSpan late = TimeSpan.FromSeconds((firedAt - due) / (double)Stopwatch.Frequency);
        late.ShouldBeLessThan(TimeSpan.FromMilliseconds(400));
    }

    [Fact]
    public void OnlyTimersASecondOrMoreAwayMayFireLateAndBy50MillisecondsAtMost()
    {
        long f = Stopwatch.Frequency;
        LinkPoller.Slack(0).ShouldBe(0);
        LinkPoller.Slack(f * 999 / 1000).ShouldBe(0, "retransmissions and the timed start of a punch are on time");
        LinkPoller.Slack(f).ShouldBe(f / 20);
        LinkPoller.Slack(f * 30).ShouldBe(f / 20);
    }

    [Fact]
    public async Task ADisposedRegistrationsTimerNeverFires()
    {
        using var socket = Bound();
        var receiver = new Receiver();
        LinkPoller.Registration registration = Poller.Add(socket, receiver);
        registration.WakeAt(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20);

        registration.Dispose();

        await Task.Delay(300);
        receiver.Count.ShouldBe(0);
    }

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private sealed class Receiver : ILinkDatagramReceiver
    {
        private int _count;

        public TaskCompletionSource<long> Fired { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string? Thread { get; private set; }

        public int Count => Volatile.Read(ref _count);

        public void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from)
        {
        }

        public void OnWakeUp()
        {
            long now = Stopwatch.GetTimestamp();
            Thread = System.Threading.Thread.CurrentThread.Name;
            Interlocked.Increment(ref _count);
            Fired.TrySetResult(now);
        }

        public void OnFault(Exception error) => Fired.TrySetException(error);
    }
}
