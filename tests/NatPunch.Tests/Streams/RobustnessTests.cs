using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>Bad input from the layer below is counted and dropped; it never throws or corrupts the stream.</summary>
public class RobustnessTests
{
    private static readonly TimeSpan Now = TimeSpan.FromSeconds(1);

    private static byte[] Segment(StreamSegmentHeader header, byte[]? payload = null, SackBlock[]? sack = null)
    {
        var buffer = new byte[1500];
        return buffer[..StreamSegment.Write(buffer, header, sack ?? [], payload ?? [])];
    }

    private static StreamSegmentHeader Valid => new(0, StreamSegmentFlags.None, 0, 0, 65536, 1, 0);

    [Fact]
    public void MalformedForeignAndImpossibleSegmentsAreDropped()
    {
        var core = new ReliableStreamCore();
        byte[] data = Segment(Valid, new byte[100]);
        byte[][] bad =
        [
            [],
            [0x10],
            data[..^1],                                              // truncated payload
            [.. data, 0],                                            // trailing garbage
            Segment(Valid with { StreamId = 9 }, new byte[100]),     // another stream's
            Segment(Valid with { Acknowledgment = 5 }),             // acknowledges bytes never sent
            Segment(Valid with { Flags = StreamSegmentFlags.Fin, Sequence = 10 }, new byte[5]), // FIN ...
            Segment(Valid with { Flags = StreamSegmentFlags.Fin, Sequence = 10 }, new byte[6]), // ... then moved
        ];
        foreach (byte[] segment in bad)
        {
            core.HandleSegment(segment, Now);
        }
        ReliableStreamStatistics stats = core.GetStatistics();
        stats.MalformedSegments.ShouldBe(4);
        stats.SegmentsDropped.ShouldBe(7); // the first FIN was accepted; the moved one is not
        core.ReadableBytes.ShouldBe(0);
        core.State.ShouldBe(ReliableStreamState.Open);
    }

    [Fact]
    public void ImpossibleSackBlocksAreIgnored()
    {
        var core = new ReliableStreamCore();
        core.Write(new byte[5000]);
        var buffer = new byte[1200];
        while (core.TryPollSegment(buffer, Now, out _))
        {
        }
        core.HandleSegment(Segment(Valid, sack: [new(4000, 3000), new(100, 900_000), new(0xFFFF0000, 10)]), Now);
        core.GetStatistics().BytesInFlight.ShouldBe(5000);
        core.GetStatistics().SegmentsDropped.ShouldBe(0);
    }

    [Fact]
    public void GarbageDuringATransferChangesNothing()
    {
        var link = new LinkConditions { Delay = TimeSpan.FromMilliseconds(10), Loss = 0.02, Duplication = 0.02, BitsPerSecond = 50_000_000 };
        var sim = new StreamSimulation(link, link, 2 * 1024 * 1024, 2 * 1024 * 1024, seed: 11);
        var random = new Random(99);
        int injected = 0;
        sim.OnDeliver = (datagram, to, now) =>
        {
            if (random.NextDouble() >= 0.2)
            {
                return;
            }
            injected++;
            SimulatedLink towards = to == sim.B ? sim.LinkAToB : sim.LinkBToA;
            byte[] bad = (injected % 4) switch
            {
                0 => RandomBytes(random, random.Next(0, 1300)),
                1 => datagram[..random.Next(0, datagram.Length)],                 // truncated copy
                2 => [.. datagram, .. RandomBytes(random, random.Next(1, 20))],  // padded copy
                _ => ForeignCopy(datagram),                                       // another stream's
            };
            towards.Inject(bad, now + TimeSpan.FromMilliseconds(random.Next(0, 30)));
        };

        sim.Run(TimeSpan.FromMinutes(5));

        StreamTransferTests.AssertDelivered(sim.A, sim.B);
        StreamTransferTests.AssertDelivered(sim.B, sim.A);
        long dropped = sim.A.Core.GetStatistics().SegmentsDropped + sim.B.Core.GetStatistics().SegmentsDropped;
        injected.ShouldBeGreaterThan(1000);
        dropped.ShouldBeGreaterThanOrEqualTo(injected * 9 / 10); // a truncation at the full length is a duplicate, not garbage
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        if (length > 0 && random.Next(2) == 0)
        {
            bytes[0] = StreamSegment.Version << 4;
        }
        return bytes;
    }

    private static byte[] ForeignCopy(byte[] datagram)
    {
        byte[] copy = [.. datagram];
        if (copy.Length > 7)
        {
            copy[7] ^= 0x55; // stream id
        }
        return copy;
    }
}
