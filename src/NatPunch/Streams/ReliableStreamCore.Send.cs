using System.Text;
using NatPunch.Streams.Internal;

namespace NatPunch.Streams;

// The send path: choosing the next segment (retransmission, probe, new data, ACK) and writing it.
public sealed partial class ReliableStreamCore
{
    private readonly ByteRing _sendBuffer;       // holds [SND.UNA, _writeEnd)
    private readonly SentSegmentQueue _sent = new();
    private long _sendUnacked;                   // SND.UNA
    private long _sendNext;                      // SND.NXT: one past the highest sequence number sent
    private long _writeEnd;                      // one past the last byte accepted by Write
    private bool _finishRequested;
    private bool _finSent;
    private long _peerRightEdge;                 // highest ACK + window seen: we may send below it
    private long _peerMaxWindow;
    private long _bytesInFlight;                 // "pipe" (RFC 6675 §4)
    private int _lostCount;
    private int _sackedCount;
    private bool _cwndBlocked;                   // new data waited for cwnd since the last delivering ACK

    /// <summary>
    /// Writes the next segment to send into <paramref name="destination"/> (at least
    /// <see cref="ReliableStreamOptions.MaxSegmentSize"/> bytes) and returns true, or returns false
    /// when there is nothing to send now. Priority: RST, retransmissions, probes, new data, pure ACK.
    /// </summary>
    public bool TryPollSegment(Span<byte> destination, TimeSpan now, out int length)
    {
        bool polled = TryPollSegmentCore(destination, now, out length);
        ReportFlight();
        return polled;
    }

    private bool TryPollSegmentCore(Span<byte> destination, TimeSpan now, out int length)
    {
        if (destination.Length < _options.MaxSegmentSize)
        {
            throw new ArgumentException($"Destination must hold MaxSegmentSize ({_options.MaxSegmentSize}) bytes.", nameof(destination));
        }
        length = 0;
        if (_state == ReliableStreamState.Reset)
        {
            if (!_resetPending)
            {
                return false;
            }
            _resetPending = false;
            length = WriteReset(destination, now);
            return true;
        }
        if (_state == ReliableStreamState.Closed)
        {
            // Closed, but still here: a retransmitted FIN (all our ACKs of it were lost) is
            // still answered, so the peer's CompleteWrites does not wait for nothing.
            if (!_ackNow)
            {
                return false;
            }
            length = WriteSegment(destination, StreamSegmentFlags.None, _sendNext, 0, 0, now);
            _acksSent++;
            return true;
        }
        if (TryPollRetransmission(destination, now, out length)
            || (_tlpPending && TryPollTailLossProbe(destination, now, out length))
            || (_probePending && TryPollWindowProbe(destination, now, out length))
            || TryPollNewData(destination, now, ignoreLimits: false, out length))
        {
            UpdateTimers(now);
            return true;
        }
        if (_ackNow || _ackDeadline <= now)
        {
            length = WriteSegment(destination, StreamSegmentFlags.None, _sendNext, 0, 0, now);
            _acksSent++;
            return true;
        }
        UpdateTimers(now);
        return false;
    }

    private bool TryPollRetransmission(Span<byte> destination, TimeSpan now, out int length)
    {
        length = 0;
        if (_lostCount == 0)
        {
            return false;
        }
        for (int i = 0; i < _sent.Count; i++)
        {
            SentSegment segment = _sent[i];
            if (!segment.Lost)
            {
                continue;
            }
            // RFC 6675 §5: retransmit while pipe leaves room in cwnd.
            if (!CongestionAllows(segment.Size))
            {
                return false;
            }
            if (!PacingAllows(now, segment.PayloadLength))
            {
                return false;
            }
            length = Transmit(destination, segment, now);
            return true;
        }
        return false;
    }

    private bool TryPollNewData(Span<byte> destination, TimeSpan now, bool ignoreLimits, out int length)
    {
        length = 0;
        if (_finSent)
        {
            return false;
        }
        long available = _writeEnd - _sendNext;
        if (available == 0)
        {
            if (!_finishRequested)
            {
                return false;
            }
            // A FIN alone needs no window and is too small to matter to congestion control.
            length = Transmit(destination, NewSegment(0, fin: true), now);
            return true;
        }
        long windowRoom = _peerRightEdge - _sendNext;
        if (windowRoom <= 0)
        {
            return false; // flow control: the persist timer probes (UpdateTimers)
        }
        long congestionRoom = ignoreLimits || _pathReliable ? long.MaxValue : _congestion.Window - _bytesInFlight;
        if (_bytesInFlight == 0)
        {
            congestionRoom = Math.Max(congestionRoom, _maxPayload); // never stall with nothing in flight
        }
        int size = (int)Math.Min(Math.Min(available, _maxPayload), Math.Min(windowRoom, congestionRoom));
        if (size <= 0)
        {
            _cwndBlocked = true;
            return false;
        }
        // Sender silly window avoidance (RFC 1122 §4.2.3.4): while data is in flight, hold back a
        // short segment unless it empties the buffer or is half the peer's largest window.
        if (!ignoreLimits && size < _maxPayload && size < available && _bytesInFlight > 0 && size < _peerMaxWindow / 2)
        {
            if (congestionRoom < windowRoom)
            {
                _cwndBlocked = true;
            }
            return false;
        }
        if (!ignoreLimits && !PacingAllows(now, size))
        {
            return false;
        }
        bool fin = _finishRequested && size == available;
        length = Transmit(destination, NewSegment(size, fin), now);
        return true;
    }

    /// <summary>
    /// RFC 8985 §7.3: the probe is new data if any may be sent, else the last segment again; in
    /// recovery (something SACKed) the first hole instead, which is what the receiver is missing.
    /// </summary>
    private bool TryPollTailLossProbe(Span<byte> destination, TimeSpan now, out int length)
    {
        _tlpPending = false;
        length = 0;
        if (_sendUnacked == _sendNext)
        {
            return false;
        }
        _probesThisStall++;
        _tailLossProbes++;
        if (!TryPollNewData(destination, now, ignoreLimits: true, out length))
        {
            SentSegment? probe = null;
            if (_sackedCount > 0)
            {
                for (int i = 0; i < _sent.Count && probe is null; i++)
                {
                    if (!_sent[i].Sacked)
                    {
                        probe = _sent[i];
                    }
                }
            }
            for (int i = _sent.Count - 1; i >= 0 && probe is null; i--)
            {
                if (!_sent[i].Sacked)
                {
                    probe = _sent[i];
                }
            }
            if (probe is null)
            {
                return false;
            }
            length = Transmit(destination, probe, now);
        }
        _rtoDeadline = now + CurrentRto; // RFC 8985 §7.3: re-arm the RTO after the probe
        return true;
    }

    /// <summary>
    /// The peer's window is closed: send one byte beyond it (RFC 9293 §3.8.6.1). The receiver
    /// drops it if it still has no room, and answers with an ACK carrying its current window either way.
    /// </summary>
    private bool TryPollWindowProbe(Span<byte> destination, TimeSpan now, out int length)
    {
        _probePending = false;
        length = 0;
        if (!IsPersisting)
        {
            return false;
        }
        SentSegment probe = _sendUnacked < _sendNext ? _sent.First : NewSegment(1, fin: false);
        probe.IsWindowProbe = true;
        length = Transmit(destination, probe, now);
        _windowProbes++;
        _persistBackoff++;
        _persistDeadline = now + PersistInterval;
        return true;
    }

    private SentSegment NewSegment(int payloadLength, bool fin)
    {
        var segment = new SentSegment(_sendNext, _sendNext + payloadLength + (fin ? 1 : 0), fin);
        _sent.Add(segment);
        _sendNext = segment.End;
        if (fin)
        {
            _finSent = true;
        }
        return segment;
    }

    private bool CongestionAllows(long size) => _pathReliable || _bytesInFlight == 0 || _bytesInFlight + size <= _congestion.Window;

    private bool PacingAllows(TimeSpan now, int bytes)
    {
        if (!_options.Pacing || _pathReliable)
        {
            return true;
        }
        TimeSpan? release = _pacer.TrySpend(now, bytes, _congestion.Window, _rtt.SmoothedRtt, _congestion.InSlowStart);
        _pacingReleaseTime = release;
        return release is null;
    }

    private int Transmit(Span<byte> destination, SentSegment segment, TimeSpan now)
    {
        int payloadLength = segment.PayloadLength;
        int length = WriteSegment(destination, segment.Fin ? StreamSegmentFlags.Fin : StreamSegmentFlags.None,
            segment.Start, segment.Start, payloadLength, now);
        if (segment.TransmitCount > 0 && !segment.IsWindowProbe)
        {
            // Sent again for loss. A window probe's byte sent again (each persist interval, or after the
            // receiver had no room for it) is flow control, counted as a probe: also on a TCP path.
            _segmentsRetransmitted++;
            _bytesRetransmitted += payloadLength;
        }
        segment.TransmitCount++;
        segment.LastSentTime = now;
        if (segment.Lost)
        {
            segment.Lost = false;
            _lostCount--;
        }
        if (!segment.InFlight)
        {
            segment.InFlight = true;
            _bytesInFlight += segment.Size;
        }
        _bytesSent += payloadLength;
        return length;
    }

    /// <summary>Writes a segment carrying our current acknowledgment state; the payload comes from the send buffer.</summary>
    private int WriteSegment(Span<byte> destination, StreamSegmentFlags flags, long sequence, long payloadStart, int payloadLength, TimeSpan now)
    {
        Span<SackBlock> blocks = stackalloc SackBlock[StreamSegment.MaxSackBlocks];
        int room = _options.MaxSegmentSize - StreamSegment.HeaderSize - payloadLength - 1;
        int blockCount = ChooseSackBlocks(blocks[..Math.Clamp(room / StreamSegment.SackBlockSize, 0, StreamSegment.MaxSackBlocks)]);
        long window = Math.Clamp(ReceiveRightEdge - _receiveNext, 0, uint.MaxValue);
        var header = new StreamSegmentHeader(_options.StreamId, flags, SequenceNumber.ToWire(sequence),
            SequenceNumber.ToWire(AckValue), (uint)window, Microseconds(now), _tsRecent);
        int offset = StreamSegment.WriteHeader(destination, header, blocks[..blockCount], payloadLength);
        if (payloadLength > 0)
        {
            _sendBuffer.Read(payloadStart, destination.Slice(offset, payloadLength));
        }
        // Every segment carries the current ACK, so any pending one is now sent.
        _lastAckSent = AckValue;
        _advertisedRightEdge = ReceiveRightEdge;
        _ackNow = false;
        _ackDeadline = null;
        _unackedSegments = 0;
        _segmentsSent++;
        _lastSegmentSentTime = now;
        return offset + payloadLength;
    }

    /// <summary>
    /// RFC 2018 §4: the first block holds the most recently received out-of-order segment; the
    /// others rotate through the remaining ranges, so that with more holes than blocks the sender
    /// still learns about all of them over a few ACKs.
    /// </summary>
    private int ChooseSackBlocks(Span<SackBlock> blocks)
    {
        int ranges = _outOfOrder.Count;
        int count = 0;
        int latest = _latestOutOfOrderStart >= 0 ? _outOfOrder.IndexOf(_latestOutOfOrderStart) : -1;
        if (_duplicateToReport is { } duplicate && blocks.Length >= 2)
        {
            // RFC 2883: the duplicate goes first, followed by the block that contains it, if any.
            _duplicateToReport = null;
            blocks[count++] = ToSackBlock(duplicate);
            int containing = duplicate.Start >= _receiveNext ? _outOfOrder.IndexOf(duplicate.Start) : -1;
            if (containing >= 0)
            {
                latest = containing;
            }
        }
        if (ranges == 0 || blocks.Length == count)
        {
            return count;
        }
        if (latest >= 0)
        {
            blocks[count++] = ToSackBlock(_outOfOrder[latest]);
        }
        int others = Math.Min(blocks.Length - count, ranges - (latest >= 0 ? 1 : 0));
        int cursor = _sackRotation % ranges;
        for (int visited = 0; visited < ranges && others > 0; visited++)
        {
            int index = (cursor + visited) % ranges;
            if (index == latest)
            {
                continue;
            }
            blocks[count++] = ToSackBlock(_outOfOrder[index]);
            others--;
        }
        _sackRotation = (cursor + Math.Max(1, others)) % ranges;
        return count;
    }

    private static SackBlock ToSackBlock(ByteRange range) =>
        new(SequenceNumber.ToWire(range.Start), SequenceNumber.ToWire(range.End));

    private int WriteReset(Span<byte> destination, TimeSpan now)
    {
        int maxReason = _options.MaxSegmentSize - StreamSegment.HeaderSize - StreamSegment.ResetCodeSize;
        Span<byte> payload = stackalloc byte[StreamSegment.ResetCodeSize + Math.Min(maxReason, 256)];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(payload, _resetCode);
        int reasonLength = Utf8Prefix(_resetReason, payload[StreamSegment.ResetCodeSize..]);
        var header = new StreamSegmentHeader(_options.StreamId, StreamSegmentFlags.Reset, SequenceNumber.ToWire(_sendNext),
            SequenceNumber.ToWire(AckValue), 0, Microseconds(now), _tsRecent);
        _segmentsSent++;
        return StreamSegment.Write(destination, header, [], payload[..(StreamSegment.ResetCodeSize + reasonLength)]);
    }

    /// <summary>Encodes as much of <paramref name="text"/> as fits, without splitting a character.</summary>
    private static int Utf8Prefix(string text, Span<byte> destination)
    {
        Encoder encoder = Encoding.UTF8.GetEncoder();
        encoder.Convert(text, destination, flush: true, out _, out int bytesUsed, out _);
        return bytesUsed;
    }
}
