using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Net;
using NatPunch.Protocol.Turn;
using NatPunch.Relay;
using NatPunch.Security;
using NatPunch.Streams;

namespace NatPunch.Session;

// A stream's turn of segments, sent together: sealed end to end in one pinned buffer and handed to
// the kernel with UDP GSO, one system call (and one trip through the stack) per run of equal-sized
// datagrams instead of one per datagram. Elsewhere, and where the path refuses, one by one.
internal sealed partial class PeerLink
{
    // One pinned buffer per sending thread: stream loops run on pool threads, several at once.
    [ThreadStatic] private static LinuxSegmentedSender? t_sender;

    // Cleared for good when the kernel refuses to segment (an old kernel, a device without checksum offload).
    private volatile bool _segmentOffload = LinuxDatagramBatch.IsSupported;

    /// <summary>
    /// Sends a stream's segments, sealed, on the selected path; dropped (the stream retransmits) while
    /// there is none, and never sent before the handshake has established the session.
    /// </summary>
    public void SendSegments(SegmentBatch batch)
    {
        DataTarget? target = _dataTarget;
        SessionCrypto? crypto = _crypto;
        if (target is null || !_established || crypto is null)
        {
            return;
        }
        TimeSpan now = Now;
        if (target.Tcp is { } tcp)
        {
            SendBatchOnTcp(tcp, batch, crypto, now);
            return;
        }
        if (!_segmentOffload || OffloadDestination(target) is not { } to)
        {
            for (int i = 0; i < batch.Count; i++)
            {
                SendSealed(target, SessionMessageType.Segment, batch[i], now);
            }
            return;
        }
        LinuxSegmentedSender sender = t_sender ??= new LinuxSegmentedSender();
        Span<byte> data = sender.Data;
        int prefix = target.Relay is null ? 0 : ChannelData.HeaderLength;
        int end = 0, runSize = 0, runCount = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            int datagram = prefix + batch[i].Length + SealedFrame.Overhead;
            // The kernel cuts a run into datagrams of the first one's size: a larger one starts a new run.
            if (runCount > 0 && (datagram > runSize || runCount == LinuxSegmentedSender.MaxSegments || end + datagram > data.Length))
            {
                SendRun(target.From, sender, to, end, runSize, runCount);
                end = runCount = 0;
            }
            crypto.Seal(SessionMessageType.Segment, batch[i], data[(end + prefix)..], now);
            if (prefix > 0)
            {
                BinaryPrimitives.WriteUInt16BigEndian(data[end..], target.Channel);
                BinaryPrimitives.WriteUInt16BigEndian(data[(end + 2)..], (ushort)(datagram - prefix));
            }
            if (runCount == 0)
            {
                runSize = datagram;
            }
            end += datagram;
            runCount++;
            if (datagram < runSize)
            {
                SendRun(target.From, sender, to, end, runSize, runCount); // only the last of a run may be shorter
                end = runCount = 0;
            }
        }
        if (runCount > 0)
        {
            SendRun(target.From, sender, to, end, runSize, runCount);
        }
    }

    /// <summary>Where a run of datagrams goes in one send: the peer, or the TURN server over UDP once a channel is bound; null otherwise.</summary>
    private static SocketAddress? OffloadDestination(DataTarget target) => target.Relay switch
    {
        null => target.Address,
        { Transport: TurnServerTransport.Udp } relay when target.Channel != 0 => relay.UdpServerAddress,
        _ => null,
    };

    private void SendRun(Socket from, LinuxSegmentedSender sender, SocketAddress to, int length, int segmentSize, int count)
    {
        SocketError error;
        try
        {
            error = sender.Send(from.SafeHandle, to, 0, length, count > 1 ? segmentSize : 0);
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        if (error == SocketError.Success || count == 1 || !sender.RefusedSegmentation)
        {
            return; // a full buffer or an ICMP error on a dying path: the stream retransmits
        }
        _segmentOffload = false;
        for (int offset = 0; offset < length; offset += segmentSize)
        {
            try
            {
                from.SendTo(sender.Data.Slice(offset, Math.Min(segmentSize, length - offset)), SocketFlags.None, to);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
        }
    }
}
