using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// Loss, duplication, latency, jitter and bandwidth behave roughly as configured. Bounds are loose
/// (several standard deviations) although, being seeded, each run is exactly the same.
/// </summary>
public class LinkConditionsTests
{
    private const int Count = 5000;

    private sealed record Pair(Simulator Sim, VirtualSocket Sender, VirtualSocket Receiver);

    /// <summary>Two public hosts; the conditions are on the sender's link (both directions).</summary>
    private static Pair Build(LinkConditions conditions, int seed = 1)
    {
        var sim = new Simulator(seed);
        VirtualSocket sender = sim.AddHost("sender", link: conditions).Bind(1000);
        VirtualSocket receiver = sim.AddHost("receiver").Bind(2000);
        return new Pair(sim, sender, receiver);
    }

    /// <summary>Sends <paramref name="count"/> numbered datagrams, one every <paramref name="interval"/>, then lets them all land.</summary>
    private static void SendNumbered(Pair pair, int count, TimeSpan interval, int size = 4)
    {
        for (int i = 0; i < count; i++)
        {
            int number = i;
            pair.Sim.Schedule(interval * i, () =>
            {
                var payload = new byte[size];
                BitConverter.TryWriteBytes(payload, number);
                pair.Sender.Send(pair.Receiver.SourceEndPoint, payload);
            });
        }
        pair.Sim.RunUntilIdle(TimeSpan.FromHours(1)).ShouldBeTrue();
    }

    private static int Number(ReceivedDatagram d) => BitConverter.ToInt32(d.Payload);

    [Fact]
    public void LossRateDropsRoughlyThatShare()
    {
        Pair pair = Build(new LinkConditions { LossRate = 0.10 });
        SendNumbered(pair, Count, TimeSpan.FromMilliseconds(1));

        double delivered = pair.Receiver.Inbox.Count / (double)Count;
        delivered.ShouldBeInRange(0.87, 0.93);
        pair.Sim.Counters.DroppedFor(DropReason.Loss).ShouldBe(Count - pair.Receiver.Inbox.Count);
    }

    [Fact]
    public void DuplicationRateDeliversRoughlyThatShareTwice()
    {
        Pair pair = Build(new LinkConditions { DuplicationRate = 0.05 });
        SendNumbered(pair, Count, TimeSpan.FromMilliseconds(1));

        int extra = pair.Receiver.Inbox.Count - Count;
        (extra / (double)Count).ShouldBeInRange(0.035, 0.065);
        pair.Receiver.Inbox.Select(Number).Distinct().Count().ShouldBe(Count);
        pair.Sim.Counters.Duplicated.ShouldBe(extra);
    }

    [Fact]
    public void LatencyAndJitterBoundEachDelayAndJitterReorders()
    {
        Pair pair = Build(new LinkConditions { Latency = TimeSpan.FromMilliseconds(50), Jitter = TimeSpan.FromMilliseconds(20) });
        TimeSpan interval = TimeSpan.FromMilliseconds(1);
        SendNumbered(pair, Count, interval);

        double[] delaysMs = pair.Receiver.Inbox.Select(d => (d.Time - interval * Number(d)).TotalMilliseconds).ToArray();
        delaysMs.Length.ShouldBe(Count);
        delaysMs.ShouldAllBe(ms => ms >= 50 && ms <= 70);
        delaysMs.Average().ShouldBeInRange(59, 61); // uniform jitter: mean latency + jitter/2
        // Packets 1 ms apart with up to 20 ms of jitter overtake each other often.
        int[] order = pair.Receiver.Inbox.Select(Number).ToArray();
        int inversions = order.Zip(order.Skip(1)).Count(p => p.Second < p.First);
        inversions.ShouldBeGreaterThan(Count / 10);
    }

    [Fact]
    public void WithoutJitterOrderIsKept()
    {
        Pair pair = Build(LinkConditions.WithLatency(30));
        SendNumbered(pair, 200, TimeSpan.FromMilliseconds(1));

        pair.Receiver.Inbox.Select(Number).ShouldBe(Enumerable.Range(0, 200));
        pair.Receiver.Inbox[0].Time.ShouldBe(TimeSpan.FromMilliseconds(30));
    }

    [Fact]
    public void DirectionsCanDiffer()
    {
        var sim = new Simulator();
        VirtualHost host = sim.AddHost("host");
        host.Link.Egress = LinkConditions.WithLatency(10);
        host.Link.Ingress = new LinkConditions { Latency = TimeSpan.FromMilliseconds(40), LossRate = 1.0 };
        VirtualSocket socket = host.Bind(1000);
        VirtualSocket echo = sim.AddHost("echo").Bind(2000);
        echo.OnReceive(d => echo.Send(d.From, d.Payload));

        socket.Send(echo.SourceEndPoint, [1]);
        sim.RunFor(TimeSpan.FromSeconds(1));

        echo.ReceivedCount.ShouldBe(1);
        socket.Inbox.ShouldBeEmpty(); // the downlink loses everything
        host.Link.Ingress = LinkConditions.WithLatency(40);
        socket.Send(echo.SourceEndPoint, [2]);
        TimeSpan sent = sim.Now;
        sim.RunFor(TimeSpan.FromSeconds(1));
        (socket.Inbox.ShouldHaveSingleItem().Time - sent).ShouldBe(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void BandwidthSpacesPacketsByTheirSerializationTime()
    {
        // 1 Mbit/s and 1000 bytes on the wire (972 + 28 of headers): 8 ms per packet.
        Pair pair = Build(new LinkConditions { BandwidthBitsPerSecond = 1_000_000 });
        SendNumbered(pair, 50, TimeSpan.Zero, size: 1000 - Packet.HeaderBytes);

        pair.Receiver.Inbox.Count.ShouldBe(50);
        pair.Receiver.Inbox.Select(d => d.Time).ShouldBe(Enumerable.Range(1, 50).Select(i => TimeSpan.FromMilliseconds(8 * i)));
    }

    [Fact]
    public void ABurstBeyondTheQueueIsDroppedAtTheTail()
    {
        Pair pair = Build(new LinkConditions { BandwidthBitsPerSecond = 1_000_000, QueueLimitBytes = 20_000 });
        SendNumbered(pair, 50, TimeSpan.Zero, size: 1000 - Packet.HeaderBytes);

        // 20 packets fit in the queue (the one being sent counts); the rest of the burst is dropped.
        pair.Receiver.Inbox.Select(Number).ShouldBe(Enumerable.Range(0, 20));
        pair.Sim.Counters.DroppedFor(DropReason.QueueFull).ShouldBe(30);
    }

    [Fact]
    public void ProbabilitiesAreNotPercentages()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new LinkConditions { LossRate = 5 });
        Should.Throw<ArgumentOutOfRangeException>(() => new LinkConditions { DuplicationRate = -0.1 });
        Should.Throw<ArgumentOutOfRangeException>(() => new LinkConditions { BandwidthBitsPerSecond = 0 });
    }

    [Fact]
    public void TheWanLinkOfANatDelaysEverythingBehindIt()
    {
        var sim = new Simulator();
        NatRouter nat = sim.AddNatRouter(NatBehavior.FullCone, link: LinkConditions.WithLatency(25));
        VirtualSocket inside = nat.AddHost(link: LinkConditions.WithLatency(2)).Bind(5000);
        VirtualSocket outside = sim.AddHost().Bind(2000);

        inside.Send(outside.SourceEndPoint, [1]);
        sim.RunFor(TimeSpan.FromSeconds(1));

        outside.Inbox.ShouldHaveSingleItem().Time.ShouldBe(TimeSpan.FromMilliseconds(27));
        outside.Inbox[0].From.ShouldBe(new IPEndPoint(nat.PublicAddress, 5000));
    }
}
