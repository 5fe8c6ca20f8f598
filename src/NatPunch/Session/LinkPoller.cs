using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NatPunch.Protocol.Net;

namespace NatPunch.Session;

/// <summary>What a <see cref="LinkPoller"/> hands each datagram to, on its thread; must not block.</summary>
internal interface ILinkDatagramReceiver
{
    /// <summary><paramref name="datagram"/> is valid only during the call.</summary>
    void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from);

    /// <summary>The time the receiver set (<see cref="LinkPoller.Registration.WakeAt"/>) has come; on the poller's thread.</summary>
    void OnWakeUp();

    /// <summary><see cref="OnDatagram"/> or <see cref="OnWakeUp"/> threw (a bug): the poller reads on, the receiver reports it.</summary>
    void OnFault(Exception error);
}

/// <summary>
/// Linux: a few threads (one per core, at most 4) read the sockets of every link in the process,
/// each waiting with <c>epoll</c> on its share of them and reading a ready socket with one
/// <c>recvmmsg</c> of up to <see cref="BatchSize"/> datagrams, with UDP GRO on so that a run of a
/// peer's datagrams arrives as one buffer, cut here into the datagrams it was. An idle session then costs no thread
/// and no buffer of its own (a thread blocked in <c>recvfrom</c> per link did: its stack and a 64 KiB
/// buffer), and a busy one still has its datagrams opened on the thread that read them, with no
/// hand-off. Each link's one timer is the poller's too (<see cref="Registration.WakeAt"/>: a heap per
/// thread, its earliest time the <c>epoll_wait</c> timeout), so an idle session's consent check is
/// one wake-up of a thread that sends it, reads the answer and sleeps again; a timer set from another
/// thread for earlier than the poller sleeps wakes it through an eventfd.
/// Elsewhere <see cref="Shared"/> is null and each link reads on a thread of its own.
/// </summary>
internal sealed class LinkPoller
{
    public const int BatchSize = 16;
    private const int WaitMilliseconds = 500;
    private static readonly Lazy<LinkPoller?> s_shared = new(() => LinuxDatagramBatch.IsSupported ? new LinkPoller(Math.Clamp(Environment.ProcessorCount, 1, 4)) : null);

    private readonly Shard[] _shards;
    private int _next;

    private LinkPoller(int shards) => _shards = [.. Enumerable.Range(0, shards).Select(i => new Shard(i))];

    /// <summary>
    /// How late a timer <paramref name="distance"/> (Stopwatch ticks) away may fire so that it can share
    /// a wake-up: not at all under a second, else 50 ms (a consent check every 5 s does not mind).
    /// </summary>
    internal static long Slack(long distance) => distance < Stopwatch.Frequency ? 0 : Stopwatch.Frequency / 20;

    /// <summary>The process's poller, or null where it cannot run (not 64-bit Linux).</summary>
    public static LinkPoller? Shared => s_shared.Value;

    /// <summary>Reads <paramref name="socket"/> for <paramref name="receiver"/> until the registration is disposed (before the socket is closed).</summary>
    public Registration Add(Socket socket, ILinkDatagramReceiver receiver) =>
        _shards[(int)((uint)Interlocked.Increment(ref _next) % (uint)_shards.Length)].Add(socket, receiver);

    internal sealed class Shard
    {
        private readonly Epoll _epoll = new(64);
        private readonly ConcurrentDictionary<long, (Socket Socket, ILinkDatagramReceiver Receiver)> _links = new();
        // Datagrams are at most 64 KiB; the slots are pinned once for the thread and touched only as far as datagrams fill them.
        private readonly LinuxDatagramBatch _batch = new(BatchSize, 65536);
        private long _nextId;

        // The links' wake-up times (Stopwatch timestamps), earliest first; an entry whose time is no
        // longer its registration's (moved or cancelled) is skipped when it comes up. Times a second
        // or more away (consent checks, keepalives) may fire a little late, by their slack, so that
        // those of many idle sessions share one wake-up; nearer ones (retransmissions, the timed
        // start of a punch) fire on time.
        private readonly Lock _timerLock = new();
        private readonly PriorityQueue<(Registration Timer, long Due), long> _timers = new();
        private readonly PriorityQueue<(Registration Timer, long Due, long Slack), long> _laxTimers = new();
        private readonly List<Registration> _due = [];
        // Until when the thread sleeps in epoll_wait (under _timerLock): an earlier time set from another thread wakes it.
        private long _sleepingUntil = long.MaxValue;
        private readonly LinuxEventFd _wake = new();
        private const long WakeId = 0;
        private int _threadId;

        public Shard(int number)
        {
            _epoll.Add(_wake.Descriptor, WakeId);
            DedicatedThread.Start($"natpunch link poller {number}", Run);
        }

        public Registration Add(Socket socket, ILinkDatagramReceiver receiver)
        {
            long id = Interlocked.Increment(ref _nextId);
            // Runs of same-size datagrams (a peer's UDP_SEGMENT sends) come as one buffer, cut below.
            LinuxDatagramBatch.TryEnableGro(socket);
            _links[id] = (socket, receiver);
            try
            {
                _epoll.Add(socket, id);
            }
            catch (SocketException)
            {
                _links.TryRemove(id, out _);
                throw;
            }
            return new Registration(this, id, socket, receiver);
        }

        public void WakeAt(Registration timer, long due)
        {
            lock (_timerLock)
            {
                if (timer.Due == due)
                {
                    return;
                }
                timer.Due = due;
                if (due == 0)
                {
                    return; // cancelled: its entries are skipped
                }
                long slack = Slack(due - Stopwatch.GetTimestamp());
                if (slack == 0)
                {
                    _timers.Enqueue((timer, due), due);
                }
                else
                {
                    _laxTimers.Enqueue((timer, due, slack), due);
                }
                if (due + slack >= _sleepingUntil || Environment.CurrentManagedThreadId == _threadId)
                {
                    return; // the thread wakes in time, or is this one and computes its sleep next
                }
                _sleepingUntil = due + slack;
            }
            _wake.Signal();
        }

        /// <summary>How long to sleep: until the earliest timer, at most <see cref="WaitMilliseconds"/>.</summary>
        private int SleepMilliseconds()
        {
            long now = Stopwatch.GetTimestamp();
            long until = now + WaitMilliseconds * Stopwatch.Frequency / 1000;
            lock (_timerLock)
            {
                if (_timers.TryPeek(out _, out long earliest) && earliest < until)
                {
                    until = earliest;
                }
                if (_laxTimers.TryPeek(out var lax, out _) && lax.Due + lax.Slack < until)
                {
                    until = lax.Due + lax.Slack; // and every lax timer due by then fires with it
                }
                _sleepingUntil = until;
            }
            // Rounded up: epoll's timeout is in milliseconds, and waking early would only sleep again.
            return (int)Math.Max(0, (until - now + Stopwatch.Frequency / 1000 - 1) * 1000 / Stopwatch.Frequency);
        }

        private void FireDueTimers()
        {
            long now = Stopwatch.GetTimestamp();
            lock (_timerLock)
            {
                while (_timers.TryPeek(out var entry, out long due) && due <= now)
                {
                    _timers.Dequeue();
                    TakeIfCurrent(entry.Timer, entry.Due);
                }
                while (_laxTimers.TryPeek(out var entry, out long due) && due <= now)
                {
                    _laxTimers.Dequeue();
                    TakeIfCurrent(entry.Timer, entry.Due);
                }
            }
            foreach (Registration timer in _due)
            {
                try
                {
                    timer.Receiver.OnWakeUp();
                }
                catch (Exception e)
                {
                    timer.Receiver.OnFault(e);
                }
            }
            _due.Clear();
        }

        /// <summary>Under the timer lock: a popped entry fires if it is still its registration's time.</summary>
        private void TakeIfCurrent(Registration timer, long due)
        {
            if (timer.Due == due)
            {
                timer.Due = 0;
                _due.Add(timer);
            }
        }

        internal void Remove(long id, Socket socket)
        {
            if (_links.TryRemove(id, out _))
            {
                _epoll.Remove(socket);
            }
        }

        private void Run()
        {
            _threadId = Environment.CurrentManagedThreadId;
            Span<long> ready = stackalloc long[_epoll.MaxEvents];
            while (true)
            {
                int events = _epoll.Wait(ready, SleepMilliseconds());
                for (int i = 0; i < events; i++)
                {
                    if (ready[i] == WakeId)
                    {
                        _wake.Drain();
                    }
                    else if (_links.TryGetValue(ready[i], out var link))
                    {
                        // One batch per socket and round: level-triggered epoll reports it again if more is queued.
                        Read(link.Socket, link.Receiver);
                    }
                }
                FireDueTimers();
            }
        }

        private void Read(Socket socket, ILinkDatagramReceiver receiver)
        {
            SafeHandle handle;
            try
            {
                handle = socket.SafeHandle;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            int count = _batch.ReceiveQueued(handle);
            for (int i = 0; i < count; i++)
            {
                if (RawSocketAddress.ToEndPoint(_batch.Address(i)[.._batch.AddressLength(i)]) is not { } from)
                {
                    continue;
                }
                try
                {
                    Span<byte> received = _batch.Buffer(i)[.._batch.Length(i)];
                    int segmentSize = _batch.GroSegmentSize(i);
                    if (segmentSize <= 0)
                    {
                        receiver.OnDatagram(received, from);
                        continue;
                    }
                    for (int offset = 0; offset < received.Length; offset += segmentSize)
                    {
                        receiver.OnDatagram(received.Slice(offset, Math.Min(segmentSize, received.Length - offset)), from);
                    }
                }
                catch (Exception e) when (e is ObjectDisposedException or SocketException)
                {
                    // The link closed while its datagram was handled: nothing to deliver to.
                }
                catch (Exception e)
                {
                    // A bug in one link must not stop every link's reading: that link hears of it.
                    receiver.OnFault(e);
                }
            }
        }
    }

    /// <summary>A link's place on the poller: its socket is read, and its one timer kept, until disposed.</summary>
    internal sealed class Registration : IDisposable
    {
        private readonly Shard _shard;
        private readonly long _id;
        private readonly Socket _socket;
        private int _disposed;

        internal Registration(Shard shard, long id, Socket socket, ILinkDatagramReceiver receiver)
        {
            _shard = shard;
            _id = id;
            _socket = socket;
            Receiver = receiver;
        }

        internal ILinkDatagramReceiver Receiver { get; }

        /// <summary>When the timer is set for (a <see cref="Stopwatch"/> timestamp), 0 for not set; under the shard's timer lock.</summary>
        internal long Due { get; set; }

        /// <summary>Sets the timer: <see cref="ILinkDatagramReceiver.OnWakeUp"/> once at <paramref name="due"/> (a <see cref="Stopwatch"/> timestamp), replacing any earlier setting.</summary>
        public void WakeAt(long due) => _shard.WakeAt(this, Math.Max(due, 1));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _shard.WakeAt(this, 0);
                _shard.Remove(_id, _socket);
            }
        }
    }
}
