using NatPunch.Streams.Internal;

namespace NatPunch.Streams;

// Loss detection and the sender's timers: RACK (RFC 8985 §6), tail loss probes (RFC 8985 §7),
// the retransmission timeout (RFC 6298 §5), the persist timer for a closed window, and the
// "waiting for the peer" clock behind IsPeerUnresponsive.
public sealed partial class ReliableStreamCore
{
    // RACK state (RFC 8985 §5.2): the most recently sent segment known delivered.
    private bool _rackValid;
    private TimeSpan _rackXmitTime;
    private long _rackEndSeq;
    private TimeSpan _rackRtt;
    private TimeSpan? _rackTimer;
    private TimeSpan _lastCongestionEvent = TimeSpan.MinValue;
    private int _reorderWindowMultiplier = 1;  // RACK.reo_wnd_mult
    private int _reorderWindowPersist;         // RACK.reo_wnd_persist
    private long? _duplicateRound;             // RACK.dsack_round

    private TimeSpan? _rtoDeadline;
    private int _rtoBackoff;
    private TimeSpan? _tlpDeadline;
    private bool _tlpPending;
    private int _probesThisStall;             // tail loss probes since SND.UNA last advanced
    private TimeSpan? _persistDeadline;
    private int _persistBackoff;
    private bool _probePending;
    private TimeSpan? _pacingReleaseTime;
    private TimeSpan? _waitingSince;

    private TimeSpan CurrentRto => _rtt.BackedOffRto(_rtoBackoff);

    /// <summary>Persist interval: the RTO, backed off per unanswered probe, at most a third of the peer timeout.</summary>
    private TimeSpan PersistInterval
    {
        get
        {
            TimeSpan interval = _rtt.BackedOffRto(_persistBackoff);
            TimeSpan cap = _options.PeerTimeout / 3;
            return interval < cap ? interval : cap;
        }
    }

    /// <summary>
    /// The peer's window is closed to everything we still have to send: either nothing is
    /// outstanding and the next new byte lies at or past its right edge, or all that is outstanding
    /// (a window probe) does. A FIN alone never waits for window.
    /// </summary>
    private bool IsPersisting
    {
        get
        {
            if (_sendUnacked < _sendNext)
            {
                return _peerRightEdge <= _sendUnacked && _sent.First.PayloadLength > 0;
            }
            return _writeEnd > _sendNext && _peerRightEdge <= _sendNext;
        }
    }

    /// <summary>RFC 8985 §6.2 step 2: remember the most recently sent segment that got delivered.</summary>
    private void UpdateRack(SentSegment segment, TimeSpan now)
    {
        // A retransmitted segment acknowledged sooner than the path's minimum RTT after its last
        // transmission was delivered by an earlier copy: its last send time says nothing.
        if (segment.TransmitCount > 1 && _rtt.MinRtt is { } minRtt && now - segment.LastSentTime < minRtt)
        {
            return;
        }
        if (segment.TransmitCount == 1)
        {
            _rtt.ObserveMinRtt(now - segment.LastSentTime); // unambiguous: sent once
        }
        if (!_rackValid || segment.LastSentTime > _rackXmitTime
            || (segment.LastSentTime == _rackXmitTime && segment.End > _rackEndSeq))
        {
            _rackValid = true;
            _rackXmitTime = segment.LastSentTime;
            _rackEndSeq = segment.End;
            _rackRtt = now - segment.LastSentTime;
        }
    }

    /// <summary>
    /// RFC 8985 §6.2 step 4: D-SACKs say we retransmitted needlessly, i.e. the path reorders more
    /// than the window allowed; widen it by min_RTT/4 per round trip that reported one, and fall
    /// back to one quarter after 16 loss episodes without.
    /// </summary>
    private void OnDuplicateReported()
    {
        if (_duplicateRound is { } round && _sendUnacked >= round)
        {
            _duplicateRound = null;
        }
        if (_duplicateRound is null)
        {
            _duplicateRound = _sendNext;
            _reorderWindowMultiplier++;
            _reorderWindowPersist = 16;
        }
    }

    private void OnLossEpisodeForReorderWindow()
    {
        if (_reorderWindowPersist > 0 && --_reorderWindowPersist == 0)
        {
            _reorderWindowMultiplier = 1;
        }
    }

    /// <summary>RFC 8985 §6.2 step 4: min(reo_wnd_mult · min_RTT/4, SRTT).</summary>
    private TimeSpan ReorderWindow
    {
        get
        {
            if (_rtt.MinRtt is not { } minRtt)
            {
                return TimeSpan.Zero;
            }
            TimeSpan window = _reorderWindowMultiplier * (minRtt / 4);
            return _rtt.SmoothedRtt is { } srtt && srtt < window ? srtt : window;
        }
    }

    /// <summary>
    /// RACK loss detection (RFC 8985 §6.2 step 5): a segment sent before the most recently
    /// delivered one is lost once RACK.rtt + reordering window has passed since it was sent;
    /// for the others a timer is set for when that will be so.
    /// </summary>
    private void DetectLosses(TimeSpan now)
    {
        _rackTimer = null;
        if (!_rackValid || _pathReliable)
        {
            return;
        }
        TimeSpan reorderWindow = ReorderWindow;
        TimeSpan? earliest = null;
        bool anyLost = false;
        TimeSpan latestLostSent = TimeSpan.MinValue;
        for (int i = 0; i < _sent.Count; i++)
        {
            SentSegment segment = _sent[i];
            bool sentBeforeRack = segment.LastSentTime < _rackXmitTime
                || (segment.LastSentTime == _rackXmitTime && segment.End < _rackEndSeq);
            if (!sentBeforeRack)
            {
                if (segment.TransmitCount <= 1)
                {
                    // First transmissions go out in sequence order, so everything after this one
                    // was sent later still (retransmissions later than their originals): done.
                    break;
                }
                continue;
            }
            if (!segment.InFlight)
            {
                continue; // SACKed or already declared lost
            }
            TimeSpan deadline = segment.LastSentTime + _rackRtt + reorderWindow;
            if (deadline <= now)
            {
                MarkLost(segment);
                anyLost = true;
                latestLostSent = Max(latestLostSent, segment.LastSentTime);
            }
            else
            {
                Earliest(ref earliest, deadline);
            }
        }
        _rackTimer = earliest;
        if (anyLost)
        {
            if (latestLostSent > _lastCongestionEvent)
            {
                _congestionEvents++; // counts loss episodes, as the controller reacts to them
                _lastCongestionEvent = now;
                OnLossEpisodeForReorderWindow();
            }
            _congestion.OnCongestionEvent(now, latestLostSent, _bytesInFlight);
        }
    }

    private void MarkLost(SentSegment segment)
    {
        if (segment.InFlight)
        {
            segment.InFlight = false;
            _bytesInFlight -= segment.Size;
        }
        segment.Lost = true;
        _lostCount++;
        _segmentsLost++;
    }

    /// <summary>
    /// RFC 6298 §5.4–5.6 and RFC 8985 §6.3: the timer expired, so everything outstanding and not
    /// SACKed is presumed lost and is retransmitted in order, from a one-segment window, under a
    /// doubled RTO.
    /// </summary>
    private void OnRetransmissionTimeout(TimeSpan now)
    {
        _rtoDeadline = null;
        _retransmissionTimeouts++;
        _rtoBackoff++;
        long inFlight = _bytesInFlight;
        for (int i = 0; i < _sent.Count; i++)
        {
            SentSegment segment = _sent[i];
            if (segment.InFlight)
            {
                MarkLost(segment);
            }
        }
        _congestion.OnRetransmissionTimeout(now, inFlight);
        _lastCongestionEvent = now;
        _tlpPending = false;
        _probesThisStall = 0;
        _tlpDeadline = null;
        _rackTimer = null;
    }

    /// <summary>Brings the RTO, TLP and persist timers and the waiting-for-peer clock in line with the current state.</summary>
    private void UpdateTimers(TimeSpan now)
    {
        if (_state is ReliableStreamState.Reset or ReliableStreamState.Closed)
        {
            return;
        }
        bool outstanding = _sendUnacked < _sendNext;
        bool persisting = IsPersisting;
        if (persisting)
        {
            _rtoDeadline = null;
            _tlpDeadline = null;
            _persistDeadline ??= now + PersistInterval;
        }
        else
        {
            _persistDeadline = null;
            _probePending = false;
            if (_peerRightEdge > _sendNext)
            {
                _persistBackoff = 0;
            }
            if (outstanding && !_pathReliable)
            {
                _rtoDeadline ??= now + CurrentRto; // RFC 6298 §5.1
                ArmTailLossProbe(now);
            }
            else
            {
                _rtoDeadline = null;
                _tlpDeadline = null;
                _probesThisStall = 0;
            }
        }
        if (outstanding || persisting)
        {
            _waitingSince ??= now;
        }
        else
        {
            _waitingSince = null;
            _peerUnresponsive = false;
        }
    }

    /// <summary>Tail loss probes before the RTO has to act, if SND.UNA does not move.</summary>
    private const int MaxProbesPerStall = 3;

    /// <summary>
    /// RFC 8985 §7.2: probe after PTO = 2·SRTT (+ the peer's worst-case ACK delay when one segment
    /// is in flight), if that comes before the RTO.
    /// </summary>
    /// <remarks>
    /// Two departures, both from QUIC's PTO (RFC 9002 §6.2): probing also during recovery (when
    /// segments are SACKed), since a lost retransmission with nothing sent after it is otherwise
    /// found only by the RTO, whose 200 ms floor dwarfs a short round trip; and up to
    /// <see cref="MaxProbesPerStall"/> probes, the PTO doubling each time, before leaving it to the
    /// RTO. Not while retransmissions wait to be sent: they will go out anyway.
    /// </remarks>
    private void ArmTailLossProbe(TimeSpan now)
    {
        if (!_options.TailLossProbe || _probesThisStall >= MaxProbesPerStall || _tlpPending || _lostCount > 0
            || _rtt.SmoothedRtt is not { } srtt)
        {
            _tlpDeadline = null;
            return;
        }
        if (_tlpDeadline is not null)
        {
            return;
        }
        TimeSpan pto = 2 * srtt;
        if (_bytesInFlight <= _maxPayload + 1)
        {
            pto += _options.AckDelay;
        }
        pto *= 1 << _probesThisStall;
        TimeSpan deadline = now + pto;
        _tlpDeadline = _rtoDeadline is { } rto && deadline >= rto ? null : deadline;
    }
}
