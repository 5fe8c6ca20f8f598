using NatPunch.Streams.Internal;

namespace NatPunch.Streams;

// The receive path: parsing and validating segments, acknowledgments for our data,
// reassembly of the peer's data, and deciding when to acknowledge it.
public sealed partial class ReliableStreamCore
{
    private readonly ByteRing _receiveBuffer;
    private readonly RangeSet _outOfOrder = new();
    private long _readPosition;      // next byte Read returns
    private long _receiveNext;       // RCV.NXT for data: everything below has arrived
    private long? _peerFin;          // where the peer's stream ends, once its FIN arrived
    private long _lastAckSent;       // Last.ACK.sent (RFC 7323 §4.3), FIN slot included
    private long _advertisedRightEdge;
    private int _unackedSegments;
    private TimeSpan? _ackDeadline;
    private bool _ackNow;
    private uint _tsRecent;          // TS.Recent (RFC 7323 §4.3)
    private bool _haveTsRecent;
    private long _latestOutOfOrderStart = -1;
    private ByteRange? _duplicateToReport;  // D-SACK (RFC 2883): the last wholly duplicate segment
    private int _sackRotation;

    /// <summary>The cumulative acknowledgment we send: RCV.NXT, plus one once the FIN is in order.</summary>
    private long AckValue => _peerFin == _receiveNext ? _receiveNext + 1 : _receiveNext;

    private long ReceiveRightEdge => _readPosition + _options.ReceiveBufferSize;

    /// <summary>A segment arrived from the layer below.</summary>
    public void HandleSegment(ReadOnlySpan<byte> bytes, TimeSpan now)
    {
        HandleSegmentCore(bytes, now);
        ReportFlight();
    }

    private void HandleSegmentCore(ReadOnlySpan<byte> bytes, TimeSpan now)
    {
        _segmentsReceived++;
        if (!StreamSegment.TryParse(bytes, out StreamSegment segment, out _))
        {
            _malformedSegments++;
            _segmentsDropped++;
            return;
        }
        if (segment.StreamId != _options.StreamId)
        {
            _segmentsDropped++;
            return;
        }
        if (_state == ReliableStreamState.Reset)
        {
            // We aborted: answer anything but a RST with a RST (never RST a RST: no ping-pong).
            if (!segment.IsReset && !ResetByPeer)
            {
                _resetPending = true;
            }
            return;
        }
        if (segment.IsReset)
        {
            EnterReset(segment.ResetCode, segment.ResetReason, byPeer: true);
            return;
        }

        long ack = SequenceNumber.Widen(segment.Acknowledgment, _sendUnacked);
        long seq = SequenceNumber.Widen(segment.Sequence, _receiveNext);
        long end = seq + segment.Payload.Length;
        bool carriesData = segment.Payload.Length > 0 || segment.IsFin;
        if (ack > _sendNext || (carriesData && !IsConsistentWithPeerFin(end, segment.IsFin)))
        {
            // Acknowledges data we never sent, or moves the peer's end of stream: not a segment
            // of this stream as we know it. Drop it whole.
            _segmentsDropped++;
            return;
        }

        _lastReceiveTime = now;
        _peerUnresponsive = false;
        ProcessAcknowledgment(segment, ack, now);
        ProcessData(segment, seq, now);
        EnterLingeringIfComplete();
        UpdateTimers(now);
    }

    private bool IsConsistentWithPeerFin(long end, bool fin)
    {
        if (_peerFin is { } known)
        {
            return end <= known && (!fin || end == known);
        }
        // A first FIN may not cut off data we already hold.
        return !fin || (end >= _receiveNext && end >= _outOfOrder.HighestEnd);
    }

    private void ProcessData(StreamSegment segment, long seq, TimeSpan now)
    {
        // RFC 7323 §4.3: remember the TSval to echo, from segments at or before the left edge of
        // what we have acknowledged, so that the echo measures the full round trip.
        if (seq <= _lastAckSent && (!_haveTsRecent || (int)(segment.TimestampValue - _tsRecent) >= 0))
        {
            _tsRecent = segment.TimestampValue;
            _haveTsRecent = true;
        }

        ReadOnlySpan<byte> payload = segment.Payload;
        if (payload.Length == 0 && !segment.IsFin)
        {
            return; // a pure ACK: ACKs are not acknowledged
        }

        long end = seq + payload.Length;
        bool outOfOrder = seq > _receiveNext;
        bool beyondWindow = end > ReceiveRightEdge;
        bool holesBefore = _outOfOrder.Count > 0;
        long added = 0;
        long start = Math.Max(seq, _receiveNext);
        long stop = Math.Min(end, ReceiveRightEdge);
        bool refused = outOfOrder && _outOfOrder.Count >= MaxOutOfOrderRanges && stop > start;
        if (stop > start && !refused)
        {
            _receiveBuffer.EnsureCapacity(_readPosition, Math.Max(_receiveNext, _outOfOrder.HighestEnd), stop);
            _receiveBuffer.Write(start, payload.Slice((int)(start - seq), (int)(stop - start)));
            added = _outOfOrder.Add(start, stop);
            long before = _receiveNext;
            if (_outOfOrder.TryTakeFirstStartingAtOrBefore(_receiveNext, out ByteRange first))
            {
                _receiveNext = Math.Max(_receiveNext, first.End);
            }
            _bytesReceived += _receiveNext - before;
            if (outOfOrder)
            {
                _latestOutOfOrderStart = start;
            }
        }

        bool newFin = false;
        if (segment.IsFin && _peerFin is null)
        {
            _peerFin = end;
            newFin = true;
        }
        bool duplicate = payload.Length > 0 ? added == 0 && !beyondWindow && !refused : !newFin;
        if (duplicate)
        {
            _duplicateSegments++;
            if (payload.Length > 0)
            {
                _duplicateToReport = new ByteRange(seq, end);
            }
        }

        // RFC 5681 §4.2: acknowledge at once when a segment is out of order, fills (part of) a gap,
        // or is a duplicate (our ACK may have been lost); also for a FIN and for anything outside
        // the window (a window probe). Otherwise ACK every second segment or after AckDelay.
        if (outOfOrder || beyondWindow || duplicate || newFin || holesBefore)
        {
            _ackNow = true;
            return;
        }
        _unackedSegments++;
        if (_unackedSegments >= _options.AckEverySegments)
        {
            _ackNow = true;
        }
        else
        {
            _ackDeadline ??= now + _options.AckDelay;
        }
    }

    /// <summary>
    /// Receiver side of silly window avoidance (RFC 1122 §4.2.3.3): after reads, announce the
    /// larger window only once it grew by enough, and only if the window we last announced was
    /// small enough to hold the sender back.
    /// </summary>
    private void MaybeScheduleWindowUpdate()
    {
        if (_peerFin is not null)
        {
            return;
        }
        long growth = ReceiveRightEdge - _advertisedRightEdge;
        long threshold = Math.Min(2L * _maxPayload, _options.ReceiveBufferSize / 2);
        bool senderMayBeLimited = _advertisedRightEdge - _receiveNext < _options.ReceiveBufferSize / 2;
        if (growth >= threshold && senderMayBeLimited)
        {
            _ackNow = true;
        }
    }

    private void ProcessAcknowledgment(StreamSegment segment, long ack, TimeSpan now)
    {
        bool wasPersisting = IsPersisting;
        // Receivers never shrink their window (docs/stream-protocol.md), so the largest right edge
        // seen is current, whatever order ACKs arrive in.
        long rightEdge = ack + segment.Window;
        if (rightEdge > _peerRightEdge)
        {
            _peerRightEdge = rightEdge;
        }
        _peerMaxWindow = Math.Max(_peerMaxWindow, segment.Window);

        long inFlightBefore = _bytesInFlight;
        bool appLimited = !_cwndBlocked && inFlightBefore * 2 < _congestion.Window;
        bool delivered = false;

        if (ack > _sendUnacked)
        {
            TakeRttSample(segment.TimestampEcho, now, inFlightBefore);
            while (_sent.Count > 0 && _sent.First.End <= ack)
            {
                SentSegment acked = _sent.First;
                if (acked.Sacked)
                {
                    _sackedCount--;
                }
                else
                {
                    Deliver(acked, acked.Size, now, appLimited);
                    delivered = true;
                }
                _sent.RemoveFirst();
            }
            if (_sent.Count > 0 && _sent.First.Start < ack)
            {
                // The receiver took only the front of this range (it trimmed at its window).
                SentSegment partial = _sent.First;
                long taken = ack - partial.Start;
                if (partial.InFlight)
                {
                    _bytesInFlight -= taken;
                }
                if (!_pathReliable)
                {
                    _congestion.OnAcked(now, partial.LastSentTime, taken, appLimited, _rtt);
                }
                partial.Start = ack;
                delivered = true;
            }
            _bytesAcknowledged += Math.Min(ack, _writeEnd) - Math.Min(_sendUnacked, _writeEnd);
            _sendUnacked = ack;
            // RFC 6298 §5.3 restart the timer; §5.7 drop the backoff now that the path delivers.
            _rtoBackoff = 0;
            _rtoDeadline = _sendUnacked < _sendNext && !_pathReliable ? now + CurrentRto : null;
            _probesThisStall = 0;
            _tlpDeadline = null;
        }

        bool duplicateReported = false;
        for (int i = 0; i < segment.SackBlockCount; i++)
        {
            SackBlock block = segment.GetSackBlock(i);
            long start = SequenceNumber.Widen(block.Start, _sendUnacked);
            long end = SequenceNumber.Widen(block.End, _sendUnacked);
            if (i == 0 && start < end && IsDuplicateSack(segment, start, end))
            {
                duplicateReported = true;
                continue;
            }
            if (start >= end || start < _sendUnacked || end > _sendNext)
            {
                continue; // stale (below SND.UNA) or impossible: ignore the block
            }
            // Only ranges entirely covered count as SACKed (RFC 6675 §2, "SACKed").
            for (int index = _sent.LowerBound(start); index < _sent.Count && _sent[index].End <= end; index++)
            {
                SentSegment covered = _sent[index];
                if (covered.Sacked)
                {
                    continue;
                }
                covered.Sacked = true;
                _sackedCount++;
                Deliver(covered, covered.Size, now, appLimited);
                delivered = true;
            }
        }

        if (duplicateReported)
        {
            OnDuplicateReported();
        }
        if (wasPersisting && !IsPersisting && _sent.Count > 0 && _sent.First is { IsWindowProbe: true, InFlight: true } probe)
        {
            // The window reopened but the probe byte is not acknowledged: the receiver dropped it
            // for want of room. Send it again now, without calling that congestion.
            probe.InFlight = false;
            _bytesInFlight -= probe.Size;
            probe.Lost = true;
            _lostCount++;
        }
        if (delivered)
        {
            _cwndBlocked = false;
            DetectLosses(now);
        }
    }

    /// <summary>
    /// RFC 2883 §4: the first block is a D-SACK when it lies below the cumulative ACK or inside
    /// the second block.
    /// </summary>
    private bool IsDuplicateSack(StreamSegment segment, long start, long end)
    {
        if (end <= _sendUnacked)
        {
            return true;
        }
        if (segment.SackBlockCount < 2)
        {
            return false;
        }
        SackBlock second = segment.GetSackBlock(1);
        long secondStart = SequenceNumber.Widen(second.Start, _sendUnacked);
        long secondEnd = SequenceNumber.Widen(second.End, _sendUnacked);
        return start >= secondStart && end <= secondEnd;
    }

    private void Deliver(SentSegment segment, long bytes, TimeSpan now, bool appLimited)
    {
        if (segment.InFlight)
        {
            _bytesInFlight -= segment.Size;
            segment.InFlight = false;
        }
        if (segment.Lost)
        {
            segment.Lost = false; // it arrived after all (late, or an earlier copy)
            _lostCount--;
        }
        if (!_pathReliable)
        {
            _congestion.OnAcked(now, segment.LastSentTime, bytes, appLimited, _rtt);
            UpdateRack(segment, now);
        }
    }

    /// <summary>
    /// RTT from the echoed timestamp of an ACK that advanced SND.UNA (RFC 7323 §4.1), weighted
    /// for the number of samples per round trip (RFC 7323 Appendix G: FlightSize / (2·SMSS)).
    /// </summary>
    private void TakeRttSample(uint echo, TimeSpan now, long inFlight)
    {
        uint elapsedMicroseconds = unchecked(Microseconds(now) - echo);
        if (elapsedMicroseconds > 60_000_000)
        {
            return; // an echo from the future or from long ago: not a measurement
        }
        int expected = (int)Math.Min(int.MaxValue, Math.Max(1, (inFlight + 2L * _maxPayload - 1) / (2L * _maxPayload)));
        _rtt.AddSample(TimeSpan.FromTicks(elapsedMicroseconds * 10L), expected);
    }
}
