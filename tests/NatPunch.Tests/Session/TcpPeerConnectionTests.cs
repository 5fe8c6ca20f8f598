using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NatPunch.Session;

namespace NatPunch.Tests.Session;

/// <summary>
/// One punched TCP connection's framing and writer, over loopback: frames of every size sent from
/// several threads at once arrive whole and each thread's in order; a sender that may not wait never
/// does, one that may waits while the peer does not read and gives up (closing the connection)
/// after the send timeout; a closed connection refuses to send.
/// </summary>
public sealed class TcpPeerConnectionTests
{
    private static async Task<(Socket A, Socket B)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Task<Socket> accept = listener.AcceptAsync();
        await a.ConnectAsync(listener.LocalEndPoint!);
        return (a, await accept);
    }

    [Fact]
    public async Task FramesFromSeveralThreadsArriveWholeAndInTheirOrder()
    {
        (Socket a, Socket b) = await ConnectedPairAsync();
        await using var sender = new TcpPeerConnection(a);
        await using var receiver = new TcpPeerConnection(b);
        var received = new List<(int Thread, int Index, int Length)>();
        var done = new TaskCompletionSource();
        const int threads = 4, perThread = 500;
        receiver.StartReading((_, frame) =>
        {
            lock (received)
            {
                int thread = frame[0], index = BinaryPrimitives.ReadInt32BigEndian(frame[1..]);
                frame[5..].ToArray().ShouldAllBe(x => x == (byte)index, "the frame's body is intact");
                received.Add((thread, index, frame.Length));
                if (received.Count == threads * perThread)
                {
                    done.TrySetResult();
                }
            }
        }, (_, _) => done.TrySetResult());

        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            var random = new Random(t);
            for (int i = 0; i < perThread; i++)
            {
                byte[] frame = new byte[5 + random.Next(0, i % 50 == 0 ? 60_000 : 1_400)];
                frame[0] = (byte)t;
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), i);
                frame.AsSpan(5).Fill((byte)i);
                sender.Send(frame, waitForRoom: true).ShouldBeTrue();
            }
        })));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(20));

        received.Count.ShouldBe(threads * perThread);
        for (int t = 0; t < threads; t++)
        {
            received.Where(r => r.Thread == t).Select(r => r.Index).ShouldBe(Enumerable.Range(0, perThread));
        }
    }

    [Fact]
    public async Task AStreamsSenderWaitsWhileThePeerDoesNotReadAndGivesUpAfterTheTimeout()
    {
        (Socket a, Socket b) = await ConnectedPairAsync();
        a.SendBufferSize = 64 * 1024;
        b.ReceiveBufferSize = 64 * 1024;
        await using var sender = new TcpPeerConnection(a, sendTimeout: TimeSpan.FromSeconds(1));
        byte[] chunk = new byte[64 * 1024];

        // Control frames never wait: they are queued (or, far behind, dropped) at once.
        DateTime start = DateTime.UtcNow;
        for (int i = 0; i < 3 * TcpPeerConnection.MaxPending / chunk.Length; i++)
        {
            sender.SendRaw(chunk);
        }
        (DateTime.UtcNow - start).ShouldBeLessThan(TimeSpan.FromSeconds(1));

        // A stream's sender waits for room that never comes (b is never read), then the connection closes.
        bool sent = await Task.Run(() => sender.SendRaw(chunk, waitForRoom: true));
        sent.ShouldBeFalse();
        sender.IsClosed.ShouldBeTrue();
        sender.Send(chunk.AsSpan(0, 10)).ShouldBeFalse("a closed connection sends nothing");
        b.Dispose();
    }
}
