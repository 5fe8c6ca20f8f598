namespace NatPunch.Tests.Streams;

/// <summary>
/// One direction of a deterministic simulated datagram path on a fake clock: bottleneck
/// serialisation with a drop-tail queue, propagation delay, jitter, random loss, duplication
/// and reordering, all from a seeded <see cref="Random"/>.
/// </summary>
public sealed class SimulatedLink
{
    private readonly PriorityQueue<byte[], (TimeSpan At, long Order)> _inFlight = new();
    private readonly Random _random;
    private TimeSpan _bottleneckFreeAt;
    private long _order;

    public SimulatedLink(LinkConditions conditions, int seed)
    {
        Conditions = conditions;
        _random = new Random(seed);
    }

    public LinkConditions Conditions { get; set; }

    /// <summary>Return true to drop a datagram deliberately (targeted tests).</summary>
    public Func<byte[], TimeSpan, bool>? Filter { get; set; }

    public long Sent { get; private set; }

    public long RandomDrops { get; private set; }

    public long QueueDrops { get; private set; }

    public long FilterDrops { get; private set; }

    public long Duplicated { get; private set; }

    public TimeSpan? NextArrival => _inFlight.TryPeek(out _, out var key) ? key.At : null;

    public void Send(ReadOnlySpan<byte> datagram, TimeSpan now)
    {
        Sent++;
        byte[] copy = datagram.ToArray();
        if (Filter?.Invoke(copy, now) == true)
        {
            FilterDrops++;
            return;
        }
        LinkConditions c = Conditions;
        TimeSpan departure = now;
        if (c.BitsPerSecond is { } bps)
        {
            TimeSpan start = _bottleneckFreeAt > now ? _bottleneckFreeAt : now;
            double queuedBits = (start - now).TotalSeconds * bps;
            if (queuedBits > c.QueueBytes * 8.0)
            {
                QueueDrops++;
                return;
            }
            departure = start + TimeSpan.FromSeconds((copy.Length + c.OverheadBytes) * 8.0 / bps);
            _bottleneckFreeAt = departure;
        }
        if (_random.NextDouble() < c.Loss)
        {
            RandomDrops++;
            return;
        }
        Schedule(copy, departure + ArrivalDelay(c));
        if (_random.NextDouble() < c.Duplication)
        {
            Duplicated++;
            Schedule(copy, departure + ArrivalDelay(c));
        }
    }

    public bool TryReceive(TimeSpan now, out byte[] datagram)
    {
        if (_inFlight.TryPeek(out datagram!, out var key) && key.At <= now)
        {
            _inFlight.Dequeue();
            return true;
        }
        datagram = [];
        return false;
    }

    /// <summary>Puts arbitrary bytes on the wire (garbage injection).</summary>
    public void Inject(byte[] datagram, TimeSpan at) => Schedule(datagram, at);

    private TimeSpan ArrivalDelay(LinkConditions c)
    {
        TimeSpan delay = c.Delay + c.Jitter * _random.NextDouble();
        if (_random.NextDouble() < c.Reordering)
        {
            delay += c.ReorderDelay;
        }
        return delay;
    }

    private void Schedule(byte[] datagram, TimeSpan at) => _inFlight.Enqueue(datagram, (at, _order++));
}
