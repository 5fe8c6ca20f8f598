using System.Security.Cryptography;
using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>
/// The stream core on a path that is reliable itself (a punched TCP connection): it sends within the
/// peer's window only and never sends anything twice, however long the peer stays silent; when the
/// path moves to UDP, what is unacknowledged goes again once, and the stream completes intact.
/// </summary>
public class ReliablePathTests
{
    // Within the window a peer is assumed to have before its first ACK (64 KiB), and five times the initial congestion window.
    private const int Bytes = 60_000;

    [Fact]
    public void OnAReliablePathTheWholeWindowGoesAtOnceAndNothingIsEverSentTwice()
    {
        var sender = new ReliableStreamCore();
        sender.SetPathReliable(true, TimeSpan.Zero);
        sender.Write(RandomNumberGenerator.GetBytes(Bytes)).ShouldBe(Bytes);

        List<byte[]> first = Drain(sender, TimeSpan.Zero);

        // Far more than the 10-segment initial congestion window: only the peer's window limits it.
        PayloadBytes(first).ShouldBe(Bytes);
        // The peer stays silent for a minute (TCP is still delivering, or slow): no timer sends anything again.
        TimeSpan now = TimeSpan.Zero;
        while (sender.NextWakeUp is { } due && due < TimeSpan.FromSeconds(50))
        {
            now = due;
            sender.HandleTimeout(now);
            PayloadBytes(Drain(sender, now)).ShouldBe(0, $"sent again at {now}");
        }
        sender.GetStatistics().BytesRetransmitted.ShouldBe(0);
        sender.GetStatistics().RetransmissionTimeouts.ShouldBe(0);
    }

    [Fact]
    public void WhenThePathMovesToUdpWhatIsUnacknowledgedGoesAgainOnceAndArrivesIntact()
    {
        var sender = new ReliableStreamCore();
        var receiver = new ReliableStreamCore();
        sender.SetPathReliable(true, TimeSpan.Zero);
        receiver.SetPathReliable(true, TimeSpan.Zero);
        byte[] data = RandomNumberGenerator.GetBytes(Bytes);
        sender.Write(data);
        sender.Finish();

        // The TCP connection dies with all of it in flight: nothing arrives.
        Drain(sender, TimeSpan.Zero).ShouldNotBeEmpty();

        TimeSpan now = TimeSpan.FromSeconds(1);
        sender.SetPathReliable(false, now);
        receiver.SetPathReliable(false, now);
        byte[] received = new byte[Bytes];
        int read = 0;
        for (int round = 0; round < 10_000 && !(receiver.IsReadFinished && sender.UnacknowledgedBytes == 0); round++)
        {
            foreach (byte[] segment in Drain(sender, now))
            {
                receiver.HandleSegment(segment, now);
            }
            read += receiver.Read(received.AsSpan(read));
            foreach (byte[] segment in Drain(receiver, now))
            {
                sender.HandleSegment(segment, now);
            }
            now += TimeSpan.FromMilliseconds(1);
            if (sender.NextWakeUp is { } due && due <= now)
            {
                sender.HandleTimeout(now);
            }
            if (receiver.NextWakeUp is { } receiverDue && receiverDue <= now)
            {
                receiver.HandleTimeout(now);
            }
        }

        read.ShouldBe(Bytes);
        received.ShouldBe(data);
        receiver.IsReadFinished.ShouldBeTrue();
        // Sent once on TCP (lost with it), once more on UDP: no more than that.
        sender.GetStatistics().BytesRetransmitted.ShouldBe(Bytes);
    }

    [Fact]
    public void MovingOntoAReliablePathSendsWhatMayHaveBeenLostOnUdpOnceAndStopsTheTimers()
    {
        var sender = new ReliableStreamCore();
        sender.Write(RandomNumberGenerator.GetBytes(Bytes));
        int onUdp = PayloadBytes(Drain(sender, TimeSpan.Zero));
        onUdp.ShouldBeLessThan(Bytes); // the congestion window held the rest back
        sender.NextWakeUp.ShouldNotBeNull(); // the retransmission timer runs

        sender.SetPathReliable(true, TimeSpan.FromMilliseconds(5));
        int onTcp = PayloadBytes(Drain(sender, TimeSpan.FromMilliseconds(5)));

        onTcp.ShouldBe(Bytes); // what went on UDP once more, and everything else
        sender.GetStatistics().BytesRetransmitted.ShouldBe(onUdp);
        sender.NextWakeUp.ShouldNotBeNull(); // the peer timeout still watches the silence
        (sender.NextWakeUp!.Value > TimeSpan.FromSeconds(10)).ShouldBeTrue($"a timer at {sender.NextWakeUp} is not the peer timeout");
    }

    private static List<byte[]> Drain(ReliableStreamCore core, TimeSpan now)
    {
        var segments = new List<byte[]>();
        byte[] buffer = new byte[2048];
        while (core.TryPollSegment(buffer, now, out int length))
        {
            segments.Add(buffer[..length]);
        }
        return segments;
    }

    private static int PayloadBytes(IEnumerable<byte[]> segments) =>
        segments.Sum(s => StreamSegment.TryParse(s, out StreamSegment parsed, out _) ? parsed.Payload.Length : 0);
}
