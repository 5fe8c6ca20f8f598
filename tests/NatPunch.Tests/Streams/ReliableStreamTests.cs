using NatPunch.Streams;
using NatPunch.Testing;

namespace NatPunch.Tests.Streams;

/// <summary>The driver's semantics over an in-process channel (real time, short waits).</summary>
public class ReliableStreamTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static CancellationToken Timeout() => TestDeadline.After(Patience);

    [Fact]
    public async Task TransfersBothWaysAndEndsCleanly()
    {
        var (a, b) = MemorySegmentChannel.CreatePair();
        await using var left = new ReliableStream(a);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();

        var (l, r) = await StreamPump.RunBothAsync(left, 1_000_000, right, 300_000, token);

        r.ReceivedHash.ShouldBe(l.SentHash);
        l.ReceivedHash.ShouldBe(r.SentHash);
        r.BytesReceived.ShouldBe(1_000_000);
        ReliableStreamStatistics stats = await left.GetStatisticsAsync(token);
        stats.BytesAcknowledged.ShouldBe(1_000_000);
        stats.BytesRead.ShouldBe(300_000);
    }

    [Fact]
    public async Task FlushWaitsForTheAcknowledgment()
    {
        var (a, b) = MemorySegmentChannel.CreatePair();
        await using var left = new ReliableStream(a);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();
        b.DropFilter = _ => true; // nothing comes back from the right

        await left.WriteAsync(new byte[5000], token);
        Task flush = left.FlushAsync(token);
        await Task.Delay(300, token);
        flush.IsCompleted.ShouldBeFalse();

        b.DropFilter = null; // the next retransmission gets acknowledged
        await flush;
        (await left.GetStatisticsAsync(token)).BytesAcknowledged.ShouldBe(5000);
        var buffer = new byte[6000];
        int read = 0;
        while (read < 5000)
        {
            read += await right.ReadAsync(buffer.AsMemory(read), token);
        }
    }

    [Fact]
    public async Task AbortFailsThePeersOperationsWithTheReason()
    {
        var (a, b) = MemorySegmentChannel.CreatePair();
        await using var left = new ReliableStream(a);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();

        Task<int> pendingRead = right.ReadAsync(new byte[100], token).AsTask();
        left.Abort(StreamResetCode.ApplicationBase + 1, "no thanks");

        var error = await Should.ThrowAsync<ReliableStreamResetException>(pendingRead);
        error.ByPeer.ShouldBeTrue();
        error.Code.ShouldBe((uint)StreamResetCode.ApplicationBase + 1);
        error.Reason.ShouldBe("no thanks");
        await Should.ThrowAsync<ReliableStreamResetException>(right.WriteAsync(new byte[10], token).AsTask());
        var local = await Should.ThrowAsync<ReliableStreamResetException>(left.ReadAsync(new byte[10], token).AsTask());
        local.ByPeer.ShouldBeFalse();
    }

    [Fact]
    public async Task DisposingAnUnfinishedStreamResetsThePeer()
    {
        var (a, b) = MemorySegmentChannel.CreatePair();
        var left = new ReliableStream(a);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();

        await left.WriteAsync(new byte[1000], token);
        await left.DisposeAsync();

        var error = await Should.ThrowAsync<ReliableStreamResetException>(async () =>
        {
            var buffer = new byte[4096];
            while (await right.ReadAsync(buffer, token) > 0)
            {
            }
        });
        error.Code.ShouldBe((uint)StreamResetCode.Disposed);
        await Should.ThrowAsync<ObjectDisposedException>(left.WriteAsync(new byte[1], token).AsTask());
    }

    [Fact]
    public async Task UnresponsivePeerFailsTheWriter()
    {
        var (a, b) = MemorySegmentChannel.CreatePair();
        a.DropFilter = _ => true; // a black hole
        var options = ReliableStreamOptions.Default with { PeerTimeout = TimeSpan.FromSeconds(1), InitialRto = TimeSpan.FromMilliseconds(200) };
        await using var left = new ReliableStream(a, options);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();

        await left.WriteAsync(new byte[1000], token);
        var error = await Should.ThrowAsync<ReliableStreamResetException>(left.CompleteWritesAsync(token));
        error.Code.ShouldBe((uint)StreamResetCode.PeerUnresponsive);
        error.InnerException.ShouldBeOfType<TimeoutException>();
    }

    [Fact]
    public async Task TimeComesOnlyFromTheInjectedTimeProvider()
    {
        // A black hole and a manual clock: 35 simulated seconds pass in a few real milliseconds,
        // and the 30 s peer timeout fires on the manual clock's say-so alone.
        var (a, b) = MemorySegmentChannel.CreatePair();
        a.DropFilter = _ => true;
        var clock = new ManualTimeProvider();
        await using var left = new ReliableStream(a, timeProvider: clock);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();

        await left.WriteAsync(new byte[1000], token);
        Task completion = left.CompleteWritesAsync(token);
        for (int step = 0; step < 350 && !completion.IsCompleted; step++)
        {
            await Task.Delay(2, token); // let the loop take its turn
            clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        var error = await Should.ThrowAsync<ReliableStreamResetException>(completion);
        error.Code.ShouldBe((uint)StreamResetCode.PeerUnresponsive);
        ReliableStreamStatistics stats = await left.GetStatisticsAsync(token);
        stats.RetransmissionTimeouts.ShouldBeInRange(4, 6); // 1, 3, 7, 15, 25 s on the manual clock
    }

    [Fact]
    public async Task ACanceledReadLeavesTheStreamUsable()
    {
        var (a, b) = MemorySegmentChannel.CreatePair();
        await using var left = new ReliableStream(a);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();

        using var cancel = new CancellationTokenSource();
        var buffer = new byte[100];
        Task<int> read = right.ReadAsync(buffer, cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Should.ThrowAsync<OperationCanceledException>(read);

        await left.WriteAsync("hello"u8.ToArray(), token);
        int count = await right.ReadAsync(buffer, token);
        buffer.AsSpan(0, count).ToArray().ShouldBe("hello"u8.ToArray());
    }

    [Fact]
    public async Task AFailingPathFailsTheStream()
    {
        var (a, b) = MemorySegmentChannel.CreatePair();
        await using var left = new ReliableStream(a);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();

        Task<int> read = left.ReadAsync(new byte[10], token).AsTask();
        a.ReceiveFailure = new InvalidOperationException("session closed");
        a.Poke();
        var error = await Should.ThrowAsync<ReliableStreamResetException>(read);
        error.Code.ShouldBe((uint)StreamResetCode.TransportFailed);
        error.InnerException.ShouldBeOfType<InvalidOperationException>();
    }

    [Fact]
    public async Task WorksAsAPlainStreamForCopyTo()
    {
        var (a, b) = MemorySegmentChannel.CreatePair();
        await using var left = new ReliableStream(a);
        await using var right = new ReliableStream(b);
        CancellationToken token = Timeout();
        byte[] data = new byte[200_000];
        new Random(5).NextBytes(data);

        Task send = Task.Run(async () =>
        {
            await new MemoryStream(data).CopyToAsync(left, token);
            await left.CompleteWritesAsync(token);
        }, token);
        var received = new MemoryStream();
        Task receive = right.CopyToAsync(received, token);
        await right.CompleteWritesAsync(token);
        await receive;
        await send;
        (await left.ReadAsync(new byte[1], token)).ShouldBe(0);
        received.ToArray().ShouldBe(data);
    }
}
