using System.Diagnostics;
using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>The driver over real UDP sockets on loopback.</summary>
public class ReliableStreamUdpTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    public async Task TwentyMegabytesEachWayAtOnce(double dropRate)
    {
        const long bytes = 20 * 1024 * 1024;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(TimeSpan.FromMinutes(2));
        var (udpA, udpB) = UdpSegmentChannel.CreateLoopbackPair();
        using var _a = udpA;
        using var _b = udpB;
        var lossyA = new LossySegmentChannel(udpA, dropRate, seed: 1);
        var lossyB = new LossySegmentChannel(udpB, dropRate, seed: 2);
        await using var left = new ReliableStream(lossyA);
        await using var right = new ReliableStream(lossyB);

        var clock = Stopwatch.StartNew();
        var (l, r) = await StreamPump.RunBothAsync(left, bytes, right, bytes, cts.Token);
        clock.Stop();

        r.BytesReceived.ShouldBe(bytes);
        l.BytesReceived.ShouldBe(bytes);
        r.ReceivedHash.ShouldBe(l.SentHash);
        l.ReceivedHash.ShouldBe(r.SentHash);

        ReliableStreamStatistics a = await left.GetStatisticsAsync(cts.Token);
        ReliableStreamStatistics b = await right.GetStatisticsAsync(cts.Token);
        double megabytesPerSecond = bytes / 1048576.0 / clock.Elapsed.TotalSeconds;
        output.WriteLine($"UDP loopback, {dropRate:P0} dropped: 20 MiB each way at once in {clock.Elapsed.TotalSeconds:F2} s = " +
            $"{megabytesPerSecond:F1} MiB/s per direction ({2 * megabytesPerSecond:F1} MiB/s total); " +
            $"dropped {lossyA.Dropped}+{lossyB.Dropped}, socket errors {udpA.SendErrors}+{udpB.SendErrors}");
        output.WriteLine($"  A: {a}");
        output.WriteLine($"  B: {b}");
        if (dropRate > 0)
        {
            a.SegmentsRetransmitted.ShouldBeGreaterThan(0);
        }
    }

    [Fact]
    public async Task AnUnreachablePeerIsLossNotFailure()
    {
        var (a, b) = UdpSegmentChannel.CreateLoopbackPair();
        using var _ = a;
        b.Dispose(); // the peer's port is closed: sends draw ICMP port unreachable
        CancellationToken token = TestContext.Current.CancellationToken;
        for (int i = 0; i < 10; i++)
        {
            await a.SendAsync(new byte[100], token);
            await Task.Delay(5, token);
        }
        using var shortWait = CancellationTokenSource.CreateLinkedTokenSource(token);
        shortWait.CancelAfter(TimeSpan.FromMilliseconds(200));
        await Should.ThrowAsync<OperationCanceledException>(a.ReceiveAsync(new byte[100], shortWait.Token).AsTask());
        (a.DatagramsSent + a.SendErrors).ShouldBe(10);
        output.WriteLine($"sent {a.DatagramsSent}, refused {a.SendErrors}");
    }
}
