using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Net;

namespace NatPunch.Tests.Net;

/// <summary>
/// The kernel's side of UDP GSO and GRO on loopback (Linux): a run sent with <see cref="LinuxSegmentedSender"/>
/// reaches a GRO socket as one buffer, which <see cref="LinuxDatagramBatch.GroSegmentSize"/> cuts back into
/// exactly the datagrams sent, and reaches any other socket as those datagrams one by one.
/// </summary>
public sealed class UdpSegmentOffloadTests
{
    private const int SegmentSize = 1000;

    [Fact]
    public void ARunReachesAGroSocketAsOneBufferThatCutsBackIntoTheDatagramsSent()
    {
        using Socket receiver = Bound();
        LinuxDatagramBatch.TryEnableGro(receiver).ShouldBeTrue();
        List<byte[]> sent = SendRun(receiver, count: 10, lastLength: 400);

        List<byte[]> received = ReceiveAll(receiver, sent.Count, out int coalesced);

        coalesced.ShouldBe(SegmentSize, "the run should arrive coalesced, cut at the sent size");
        received.Count.ShouldBe(sent.Count);
        for (int i = 0; i < sent.Count; i++)
        {
            received[i].ShouldBe(sent[i]);
        }
    }

    [Fact]
    public void WithoutGroEachDatagramOfARunArrivesOnItsOwn()
    {
        using Socket receiver = Bound();
        List<byte[]> sent = SendRun(receiver, count: 5, lastLength: SegmentSize);

        List<byte[]> received = ReceiveAll(receiver, sent.Count, out int coalesced);

        coalesced.ShouldBe(0);
        received.Select(r => r.Length).ShouldBe(sent.Select(s => s.Length));
        received.ShouldBe(sent);
    }

    [Fact]
    public void ADatagramSentAloneIsNotCoalesced()
    {
        using Socket receiver = Bound();
        LinuxDatagramBatch.TryEnableGro(receiver).ShouldBeTrue();
        using Socket sender = Bound();
        var offload = new LinuxSegmentedSender();
        new byte[] { 1, 2, 3 }.CopyTo(offload.Data);
        offload.Send(sender.SafeHandle, receiver.LocalEndPoint!.Serialize(), 0, 3, segmentSize: 0).ShouldBe(SocketError.Success);

        List<byte[]> received = ReceiveAll(receiver, 1, out int coalesced);

        coalesced.ShouldBe(0);
        received.Single().ShouldBe(new byte[] { 1, 2, 3 });
    }

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    /// <summary>Sends <paramref name="count"/> datagrams of <see cref="SegmentSize"/> bytes and a last one of <paramref name="lastLength"/>, each filled with its number.</summary>
    private static List<byte[]> SendRun(Socket receiver, int count, int lastLength)
    {
        using Socket sender = Bound();
        var offload = new LinuxSegmentedSender();
        var sent = new List<byte[]>();
        int end = 0;
        for (int i = 0; i <= count; i++)
        {
            byte[] datagram = Enumerable.Repeat((byte)(i + 1), i == count ? lastLength : SegmentSize).ToArray();
            datagram.CopyTo(offload.Data[end..]);
            end += datagram.Length;
            sent.Add(datagram);
        }
        offload.Send(sender.SafeHandle, receiver.LocalEndPoint!.Serialize(), 0, end, SegmentSize).ShouldBe(SocketError.Success);
        return sent;
    }

    /// <summary>Reads until <paramref name="expected"/> datagrams are in, cutting coalesced buffers as the link poller does.</summary>
    private static List<byte[]> ReceiveAll(Socket receiver, int expected, out int coalescedSegmentSize)
    {
        var batch = new LinuxDatagramBatch(8, 65536);
        var datagrams = new List<byte[]>();
        coalescedSegmentSize = 0;
        while (datagrams.Count < expected)
        {
            int count = batch.Receive(receiver.SafeHandle, out SocketError error);
            error.ShouldBe(SocketError.Success);
            for (int slot = 0; slot < count; slot++)
            {
                byte[] buffer = batch.Buffer(slot)[..batch.Length(slot)].ToArray();
                int segmentSize = batch.GroSegmentSize(slot);
                coalescedSegmentSize = Math.Max(coalescedSegmentSize, segmentSize);
                for (int offset = 0; offset < buffer.Length; offset += segmentSize > 0 ? segmentSize : buffer.Length)
                {
                    datagrams.Add(buffer[offset..Math.Min(buffer.Length, offset + (segmentSize > 0 ? segmentSize : buffer.Length))]);
                }
            }
        }
        return datagrams;
    }
}
