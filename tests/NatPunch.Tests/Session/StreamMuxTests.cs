using System.Buffers.Binary;
using System.Collections.Concurrent;
using NatPunch.Security;
using NatPunch.Session;
using NatPunch.Streams;
using NatPunch.Tests.Streams;

namespace NatPunch.Tests.Session;

/// <summary>Many streams and datagrams over one in-memory session (real streams, real time, short waits).</summary>
public class StreamMuxTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static CancellationToken Timeout() => TestDeadline.After(Patience);

    private sealed class Pair : IAsyncDisposable
    {
        public required MemoryMuxHost HostA { get; init; }
        public required MemoryMuxHost HostB { get; init; }
        public required StreamMux A { get; init; }
        public required StreamMux B { get; init; }

        public async ValueTask DisposeAsync()
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
            await HostA.DisposeAsync();
            await HostB.DisposeAsync();
        }
    }

    /// <summary>A is the handshake's initiator, B the responder.</summary>
    private static Pair Connect(uint maxIncomingA = 1024, uint maxIncomingB = 1024, ReliableStreamOptions? options = null,
        Func<SessionMessageType, byte[], bool>? dropFromB = null)
    {
        options ??= ReliableStreamOptions.Default;
        var (hostA, hostB) = MemoryMuxHost.CreatePair();
        hostB.Drop = dropFromB;
        var a = new StreamMux(hostA, initiator: true, maxIncomingA, options, TimeProvider.System);
        var b = new StreamMux(hostB, initiator: false, maxIncomingB, options, TimeProvider.System);
        hostA.Deliver(b);
        hostB.Deliver(a);
        return new Pair { HostA = hostA, HostB = hostB, A = a, B = b };
    }

    [Fact]
    public async Task StreamsOpenedByBothSidesAtOnceEachCarryTheirOwnBytesBothWays()
    {
        CancellationToken ct = Timeout();
        await using Pair pair = Connect();
        const int PerSide = 24;
        const int Bytes = 150_000;
        var results = new ConcurrentDictionary<(string Side, uint Id), StreamPump.Result>();

        // Takes count streams from next (opened or accepted) and runs each: send bytes, read to the end.
        async Task Run(string side, Func<CancellationToken, Task<ReliableStream>> next, int count, long bytes, int seedOffset)
        {
            var runs = new List<Task>();
            for (int i = 0; i < count; i++)
            {
                ReliableStream taken = await next(ct);
                runs.Add(Task.Run(async () =>
                {
                    await using ReliableStream stream = taken;
                    results[(side, stream.Options.StreamId)] = await StreamPump.RunAsync(stream, bytes, seed: (int)stream.Options.StreamId + seedOffset, ct);
                }, ct));
            }
            await Task.WhenAll(runs);
        }

        Task Open(string side, StreamMux mux, int count) => Run(side, mux.OpenAsync, count, Bytes, seedOffset: 0);
        Task Serve(string side, StreamMux mux, int count) => Run(side, mux.AcceptAsync, count, Bytes / 2, seedOffset: 1000);

        await Task.WhenAll(Open("a", pair.A, PerSide), Serve("b", pair.B, PerSide), Open("b", pair.B, PerSide), Serve("a", pair.A, PerSide));

        results.Count.ShouldBe(4 * PerSide);
        foreach (((string side, uint id), StreamPump.Result mine) in results)
        {
            StreamPump.Result theirs = results[(side == "a" ? "b" : "a", id)];
            mine.ReceivedHash.ShouldBe(theirs.SentHash, $"stream {id} as {side} received");
        }
        results.Keys.Where(k => k.Side == "a").Select(k => k.Id).Where(id => id % 2 == 0).Count().ShouldBe(PerSide); // A (initiator) opened even ids
        pair.A.RefusedSegments.ShouldBe(0);
        pair.B.RefusedSegments.ShouldBe(0);
    }

    [Fact]
    public async Task AStreamWhoseReaderStallsNeverBlocksAnother()
    {
        CancellationToken ct = Timeout();
        var small = ReliableStreamOptions.Default with { SendBufferSize = 64 * 1024, ReceiveBufferSize = 64 * 1024 };
        await using Pair pair = Connect(options: small);
        ReliableStream stalled = await pair.A.OpenAsync(ct);
        await stalled.WriteAsync(new byte[1], ct);
        ReliableStream stalledThere = await pair.B.AcceptAsync(ct); // accepted, never read
        Task fill = Task.Run(async () => await stalled.WriteAsync(new byte[1_000_000], ct), ct);

        ReliableStream moving = await pair.A.OpenAsync(ct);
        Task<byte[]> sent = StreamPump.SendAsync(moving, 2_000_000, seed: 7, ct);
        ReliableStream movingThere = await pair.B.AcceptAsync(ct);
        (byte[] hash, long bytes) = await StreamPump.ReceiveAsync(movingThere, ct);

        bytes.ShouldBe(2_000_000);
        hash.ShouldBe(await sent);
        fill.IsCompleted.ShouldBeFalse(); // the stalled stream is still full, its window closed
        stalledThere.Abort(StreamResetCode.Aborted, "test over");
    }

    [Fact]
    public async Task OpeningWaitsAtThePeersLimitAndGoesOnWhenAStreamCloses_EvenIfTheAnnouncementsAreLost()
    {
        CancellationToken ct = Timeout();
        int dropped = 0;
        // B's first announcement (at start) is lost: A learns B's limit by asking (StreamsBlocked).
        await using Pair pair = Connect(maxIncomingB: 2, dropFromB: (type, _) => type == SessionMessageType.MaxStreams && Interlocked.Increment(ref dropped) == 1);
        var opened = new List<ReliableStream>();
        for (int i = 0; i < 2; i++)
        {
            ReliableStream stream = await pair.A.OpenAsync(ct);
            await stream.WriteAsync(new byte[] { (byte)i }, ct);
            opened.Add(stream);
        }
        // The two streams' first segments may reach B in either order: match them by id.
        ReliableStream[] accepted = [await pair.B.AcceptAsync(ct), await pair.B.AcceptAsync(ct)];
        ReliableStream first = accepted.Single(s => s.Options.StreamId == opened[0].Options.StreamId);
        ReliableStream second = accepted.Single(s => s.Options.StreamId == opened[1].Options.StreamId);
        dropped.ShouldBeGreaterThanOrEqualTo(1);

        Task<ReliableStream> third = pair.A.OpenAsync(ct);
        await Task.Delay(300, ct);
        third.IsCompleted.ShouldBeFalse("B allows two streams at once");

        // Close the first stream cleanly on both sides: B's place is free once its stream is done.
        await opened[0].CompleteWritesAsync(ct);
        (await first.ReadAsync(new byte[8], ct)).ShouldBe(1);
        (await first.ReadAsync(new byte[8], ct)).ShouldBe(0);
        await first.CompleteWritesAsync(ct);
        (await opened[0].ReadAsync(new byte[8], ct)).ShouldBe(0);
        await Task.WhenAll(first.DisposeAsync().AsTask(), opened[0].DisposeAsync().AsTask());

        ReliableStream stream3 = await third.WaitAsync(ct);
        stream3.Options.StreamId.ShouldBe(6u);
        pair.B.RefusedSegments.ShouldBe(0);
        second.Abort(StreamResetCode.Aborted);
    }

    [Fact]
    public async Task AResetEndsOneStreamOnlyAndEachStreamHalfClosesOnItsOwn()
    {
        CancellationToken ct = Timeout();
        await using Pair pair = Connect();
        ReliableStream doomed = await pair.A.OpenAsync(ct);
        await doomed.WriteAsync("x"u8.ToArray(), ct);
        ReliableStream doomedThere = await pair.B.AcceptAsync(ct);
        ReliableStream kept = await pair.A.OpenAsync(ct);
        await kept.WriteAsync("request"u8.ToArray(), ct);
        await kept.CompleteWritesAsync(ct); // half-close: A is done sending, still reads
        ReliableStream keptThere = await pair.B.AcceptAsync(ct);

        doomed.Abort(StreamResetCode.ApplicationBase + 7, "changed my mind");
        var reset = await Should.ThrowAsync<ReliableStreamResetException>(async () =>
        {
            byte[] buffer = new byte[16];
            while (await doomedThere.ReadAsync(buffer, ct) > 0)
            {
            }
        });
        reset.Code.ShouldBe((uint)StreamResetCode.ApplicationBase + 7);

        (byte[] requestHash, long requestBytes) = await StreamPump.ReceiveAsync(keptThere, ct);
        requestBytes.ShouldBe(7);
        await keptThere.WriteAsync("response"u8.ToArray(), ct);
        await keptThere.CompleteWritesAsync(ct);
        var reply = new MemoryStream();
        await kept.CopyToAsync(reply, ct);
        reply.ToArray().ShouldBe("response"u8.ToArray());
    }

    [Fact]
    public async Task DatagramsMayBeLostButArriveIntactAndOnceAndAnOversizedOneIsRefused()
    {
        CancellationToken ct = Timeout();
        await using Pair pair = Connect();
        pair.HostA.LossRate = 0.3;
        const int Count = 1000;
        var seen = new HashSet<int>();
        Task reading = Task.Run(async () =>
        {
            while (true)
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(ct);
                quiet.CancelAfter(TimeSpan.FromSeconds(1));
                byte[] datagram;
                try
                {
                    datagram = await pair.B.ReceiveDatagramAsync(quiet.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    return; // quiet for a second: everything that was not lost is in
                }
                int i = BinaryPrimitives.ReadInt32BigEndian(datagram);
                datagram.Length.ShouldBe(4 + (i % 1196));
                datagram.AsSpan(4).IndexOfAnyExcept((byte)i).ShouldBe(-1);
                seen.Add(i).ShouldBeTrue($"datagram {i} twice");
            }
        }, ct);
        for (int i = 0; i < Count; i++)
        {
            byte[] datagram = new byte[4 + (i % 1196)];
            BinaryPrimitives.WriteInt32BigEndian(datagram, i);
            datagram.AsSpan(4).Fill((byte)i);
            pair.A.SendDatagram(datagram);
            if (i % 100 == 99)
            {
                await Task.Delay(10, ct); // the backlog holds 256 for a reader that is behind
            }
        }
        await reading;
        seen.Count.ShouldBeInRange(Count * 55 / 100, Count * 85 / 100); // about 70 % with 30 % lost
        pair.B.DroppedDatagrams.ShouldBe(0);

        var tooLarge = Should.Throw<DatagramTooLargeException>(() => pair.A.SendDatagram(new byte[1201]));
        tooLarge.MaxSize.ShouldBe(1200);
        tooLarge.Message.ShouldContain("1201 bytes");
    }

    [Fact]
    public async Task SegmentsForIdsThePeerMayNotUseAreRefusedAndCounted()
    {
        CancellationToken ct = Timeout();
        await using Pair pair = Connect(maxIncomingB: 4);
        pair.B.OnSegment(SegmentFor(2 * 100 + 2)); // A's 101st stream: beyond B's limit of 4
        pair.B.OnSegment(SegmentFor(1));           // B's own id, never opened
        pair.B.OnSegment([0x10, 0, 0]);            // too short to name a stream
        pair.B.RefusedSegments.ShouldBe(3);
        pair.B.OpenStreams.ShouldBe(0);

        // The mux still works.
        ReliableStream stream = await pair.A.OpenAsync(ct);
        await stream.WriteAsync("ok"u8.ToArray(), ct);
        ReliableStream there = await pair.B.AcceptAsync(ct);
        there.Options.StreamId.ShouldBe(2u);
    }

    [Fact]
    public async Task WhenTheSessionEndsEveryStreamFailsWithTheReasonAndNothingMoreOpens()
    {
        CancellationToken ct = Timeout();
        await using Pair pair = Connect();
        ReliableStream stream = await pair.A.OpenAsync(ct);
        Task<int> reading = stream.ReadAsync(new byte[16], ct).AsTask();
        Task<ReliableStream> accepting = pair.A.AcceptAsync(ct);

        pair.A.Abort("the peer left");

        (await Should.ThrowAsync<IOException>(reading)).Message.ShouldContain("the peer left");
        (await Should.ThrowAsync<IOException>(accepting)).Message.ShouldContain("the peer left");
        (await Should.ThrowAsync<IOException>(pair.A.OpenAsync(ct))).Message.ShouldContain("the peer left");
        Should.Throw<IOException>(() => pair.A.SendDatagram([1, 2, 3]));
    }

    private static byte[] SegmentFor(uint streamId)
    {
        byte[] segment = new byte[28];
        segment[0] = 0x10; // version 1
        BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(4), streamId);
        return segment;
    }
}
