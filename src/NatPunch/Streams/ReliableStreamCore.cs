using NatPunch.Streams.Internal;

namespace NatPunch.Streams;

/// <summary>
/// One reliable, ordered, flow- and congestion-controlled byte stream in each direction, as a
/// state machine without I/O (DESIGN.md, "Protocol cores"; the shape of quinn-proto). Opaque
/// segments (docs/stream-protocol.md) go to and come from the layer below; time is an input.
/// </summary>
/// <remarks>
/// <para>
/// Calling contract (single-threaded; the owner serialises all calls): after any of
/// <see cref="Write"/>, <see cref="Finish"/>, <see cref="Read"/>, <see cref="Abort(uint, string?)"/>,
/// <see cref="HandleSegment"/> or <see cref="HandleTimeout"/>, call <see cref="TryPollSegment"/>
/// until it returns false and hand each segment to the layer below; then call
/// <see cref="HandleTimeout"/> once the clock reaches <see cref="NextWakeUp"/>.
/// </para>
/// <para>
/// Inside: byte sequence numbers (64-bit; low 32 bits on the wire), cumulative and selective
/// acknowledgment (RFC 2018, scoreboard per RFC 6675), RTT from echoed timestamps (RFC 7323) into
/// an RFC 6298 RTO with exponential backoff, loss detection by RACK (RFC 8985 §6) and tail loss
/// probes (RFC 8985 §7), a pluggable congestion controller (NewReno by default, RFC 5681/6582),
/// pacing, delayed ACKs (RFC 5681 §4.2), receive-window flow control with a persist timer and
/// window probes (RFC 9293 §3.8.6.1), FIN per direction, and reset.
/// </para>
/// Malformed, foreign, duplicated, reordered or truncated segments are counted and dropped; the
/// core never throws on input from the network.
/// </remarks>
public sealed partial class ReliableStreamCore
{
    /// <summary>Limit on out-of-order ranges held, so a pathological peer cannot make SACK bookkeeping quadratic.</summary>
    internal const int MaxOutOfOrderRanges = 4096;

    private readonly ReliableStreamOptions _options;
    private readonly int _maxPayload;
    private readonly ICongestionController _congestion;
    private bool _reportedFlying;
    private readonly RttEstimator _rtt;
    private readonly Pacer _pacer;

    private ReliableStreamState _state = ReliableStreamState.Open;
    private bool _resetPending;
    private uint _resetCode;
    private string _resetReason = "";
    private TimeSpan? _lastReceiveTime;
    private TimeSpan _lastSegmentSentTime;
    private bool _peerUnresponsive;

    public ReliableStreamCore(ReliableStreamOptions? options = null)
        : this(options, initialSendSequence: 0, initialReceiveSequence: 0)
    {
    }

    /// <summary>
    /// Starts the sequence spaces at other offsets than 0; both ends must agree. Tests use it to
    /// cross the 32-bit wrap of the wire format without sending 4 GiB.
    /// </summary>
    internal ReliableStreamCore(ReliableStreamOptions? options, long initialSendSequence, long initialReceiveSequence)
    {
        _options = options ?? ReliableStreamOptions.Default;
        _options.Validate();
        _maxPayload = _options.MaxPayloadSize;
        _congestion = _options.CongestionControllerFactory(_maxPayload, _options.InitialWindowSegments)
            ?? throw new ArgumentException("CongestionControllerFactory returned null.", nameof(options));
        _rtt = new RttEstimator(_options.InitialRto, _options.MinRto, _options.MaxRto, TimeSpan.FromMilliseconds(1));
        _pacer = new Pacer(_maxPayload);
        _sendBuffer = new ByteRing(_options.SendBufferSize);
        _receiveBuffer = new ByteRing(_options.ReceiveBufferSize);
        _sendUnacked = _sendNext = _writeEnd = initialSendSequence;
        _peerRightEdge = initialSendSequence + ReliableStreamOptions.AssumedInitialWindow;
        _peerMaxWindow = ReliableStreamOptions.AssumedInitialWindow;
        _readPosition = _receiveNext = _lastAckSent = initialReceiveSequence;
        _advertisedRightEdge = initialReceiveSequence + _options.ReceiveBufferSize;
    }

    // For tests: the receive window as this core sees it.
    internal long ReceiveNextForTests => _receiveNext;

    internal long ReceiveRightEdgeForTests => ReceiveRightEdge;

    public ReliableStreamOptions Options => _options;

    public uint StreamId => _options.StreamId;

    public ReliableStreamState State => _state;

    public RttEstimator RoundTrip => _rtt;

    public ICongestionController CongestionController => _congestion;

    /// <summary><see cref="Finish"/> was called: no more writes.</summary>
    public bool IsWriteFinished => _finishRequested;

    /// <summary>All written data and our FIN are acknowledged by the peer.</summary>
    public bool IsWriteCompleted => _finSent && _sendUnacked == _sendNext;

    /// <summary>The peer's FIN arrived and every byte before it has been read: <see cref="Read"/> returns 0 for good.</summary>
    public bool IsReadFinished => _peerFin is { } fin && _readPosition == fin;

    /// <summary>Both directions ended cleanly: the "everything delivered both ways" condition.</summary>
    public bool IsComplete => IsWriteCompleted && IsReadFinished;

    public bool IsReset => _state == ReliableStreamState.Reset;

    /// <summary>The reset came from the peer (rather than <see cref="Abort(uint, string?)"/>).</summary>
    public bool ResetByPeer { get; private set; }

    public uint ResetCode => _resetCode;

    public string ResetReason => _resetReason;

    /// <summary>
    /// We are waiting for the peer (unacknowledged data or FIN, or a window probe) and nothing has
    /// arrived from it for <see cref="ReliableStreamOptions.PeerTimeout"/>. Clears when a segment arrives.
    /// </summary>
    public bool IsPeerUnresponsive => _peerUnresponsive;

    /// <summary>Bytes <see cref="Read"/> can return now.</summary>
    public long ReadableBytes => _receiveNext - _readPosition;

    /// <summary>Bytes <see cref="Write"/> would accept now.</summary>
    public long WritableBytes =>
        _finishRequested || IsReset ? 0 : _options.SendBufferSize - (_writeEnd - _sendUnacked);

    /// <summary>Written bytes not yet acknowledged by the peer.</summary>
    public long UnacknowledgedBytes => _writeEnd - Math.Min(_sendUnacked, _writeEnd);

    /// <summary>
    /// Accepts as much of <paramref name="data"/> as the send buffer has room for and returns how
    /// much that was (0 when full). Throws after <see cref="Finish"/> or a reset: writing then is a bug.
    /// </summary>
    public int Write(ReadOnlySpan<byte> data)
    {
        ThrowIfReset();
        if (_finishRequested)
        {
            throw new InvalidOperationException("Write after Finish.");
        }
        int count = (int)Math.Min(WritableBytes, data.Length);
        if (count <= 0)
        {
            return 0;
        }
        _sendBuffer.EnsureCapacity(_sendUnacked, _writeEnd, _writeEnd + count);
        _sendBuffer.Write(_writeEnd, data[..count]);
        _writeEnd += count;
        _bytesWritten += count;
        return count;
    }

    /// <summary>Ends our direction: a FIN follows the last written byte. Idempotent.</summary>
    public void Finish()
    {
        ThrowIfReset();
        _finishRequested = true;
    }

    /// <summary>
    /// Copies received in-order bytes into <paramref name="destination"/>. Returns 0 when nothing is
    /// available; then <see cref="IsReadFinished"/> says whether that is the end of the stream.
    /// </summary>
    public int Read(Span<byte> destination)
    {
        int count = (int)Math.Min(ReadableBytes, destination.Length);
        if (count <= 0 || IsReset)
        {
            return 0;
        }
        _receiveBuffer.Read(_readPosition, destination[..count]);
        _readPosition += count;
        _bytesRead += count;
        MaybeScheduleWindowUpdate();
        EnterLingeringIfComplete();
        return count;
    }

    /// <summary>
    /// Aborts both directions: pending data is discarded and a RST carrying <paramref name="code"/>
    /// and <paramref name="reason"/> is sent. No effect once reset or after a clean close.
    /// </summary>
    public void Abort(uint code, string? reason = null)
    {
        if (_state != ReliableStreamState.Open)
        {
            return;
        }
        EnterReset(code, reason ?? "", byPeer: false);
        _resetPending = true;
    }

    public void Abort(StreamResetCode code, string? reason = null) => Abort((uint)code, reason);

    /// <summary>When <see cref="HandleTimeout"/> is next needed; null when the core only waits for input.</summary>
    public TimeSpan? NextWakeUp
    {
        get
        {
            if (_state is ReliableStreamState.Reset or ReliableStreamState.Closed)
            {
                return null;
            }
            TimeSpan? next = null;
            if (!_ackNow)
            {
                Earliest(ref next, _ackDeadline);
            }
            Earliest(ref next, _rackTimer);
            Earliest(ref next, _rtoDeadline);
            Earliest(ref next, _tlpDeadline);
            Earliest(ref next, _persistDeadline);
            Earliest(ref next, _pacingReleaseTime);
            Earliest(ref next, PeerTimeoutDeadline);
            if (_state == ReliableStreamState.Lingering)
            {
                Earliest(ref next, LingerDeadline);
                Earliest(ref next, LingerReacknowledgmentDue);
            }
            return next;
        }
    }

    /// <summary>The clock reached (or passed) <see cref="NextWakeUp"/>.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        HandleTimeoutCore(now);
        ReportFlight();
    }

    /// <summary>Tells the congestion controller whenever this stream starts or stops having bytes in flight (a session's shared controller divides its window among those that have).</summary>
    private void ReportFlight()
    {
        bool flying = _bytesInFlight > 0;
        if (flying != _reportedFlying)
        {
            _reportedFlying = flying;
            _congestion.OnFlightChanged(_bytesInFlight);
        }
    }

    private void HandleTimeoutCore(TimeSpan now)
    {
        if (_state is ReliableStreamState.Reset or ReliableStreamState.Closed)
        {
            return;
        }
        if (_ackDeadline <= now)
        {
            _ackDeadline = null;
            _ackNow = true;
        }
        if (_rackTimer <= now)
        {
            DetectLosses(now);
        }
        if (_rtoDeadline <= now)
        {
            OnRetransmissionTimeout(now);
        }
        else if (_tlpDeadline <= now)
        {
            _tlpDeadline = null;
            _tlpPending = true;
        }
        if (_persistDeadline <= now)
        {
            _persistDeadline = null;
            _probePending = true;
        }
        if (_pacingReleaseTime <= now)
        {
            _pacingReleaseTime = null;
        }
        if (PeerTimeoutDeadline <= now)
        {
            _peerUnresponsive = true;
        }
        if (LingerReacknowledgmentDue <= now)
        {
            _ackNow = true;
            _lingerReacknowledgments++;
        }
        if (_state == ReliableStreamState.Lingering && LingerDeadline <= now)
        {
            _state = ReliableStreamState.Closed;
        }
        UpdateTimers(now);
    }

    public ReliableStreamStatistics GetStatistics() => new()
    {
        BytesWritten = _bytesWritten,
        BytesSent = _bytesSent,
        BytesRetransmitted = _bytesRetransmitted,
        BytesAcknowledged = _bytesAcknowledged,
        BytesReceived = _bytesReceived,
        BytesRead = _bytesRead,
        SegmentsSent = _segmentsSent,
        SegmentsRetransmitted = _segmentsRetransmitted,
        SegmentsReceived = _segmentsReceived,
        DuplicateSegments = _duplicateSegments,
        SegmentsDropped = _segmentsDropped,
        MalformedSegments = _malformedSegments,
        SegmentsLost = _segmentsLost,
        CongestionEvents = _congestionEvents,
        RetransmissionTimeouts = _retransmissionTimeouts,
        TailLossProbes = _tailLossProbes,
        WindowProbes = _windowProbes,
        AcksSent = _acksSent,
        SmoothedRtt = _rtt.SmoothedRtt,
        RttVariation = _rtt.RttVariation,
        MinRtt = _rtt.MinRtt,
        Rto = CurrentRto,
        CongestionWindow = _congestion.Window,
        SlowStartThreshold = _congestion.SlowStartThreshold,
        BytesInFlight = _bytesInFlight,
        PeerWindow = Math.Max(0, _peerRightEdge - _sendNext),
    };

    // Counters behind GetStatistics.
    private long _bytesWritten, _bytesSent, _bytesRetransmitted, _bytesAcknowledged, _bytesReceived, _bytesRead;
    private long _segmentsSent, _segmentsRetransmitted, _segmentsReceived, _duplicateSegments, _segmentsDropped;
    private long _malformedSegments, _segmentsLost, _congestionEvents, _retransmissionTimeouts, _tailLossProbes;
    private long _windowProbes, _acksSent;

    /// <summary>
    /// How long to linger after a clean close: three RTOs of quiet from the peer, as QUIC's
    /// draining period is three PTOs (RFC 9000 §10.2). A FIN retransmitted because our ACK of it
    /// was lost restarts the wait.
    /// </summary>
    private TimeSpan LingerDeadline => (_lastReceiveTime ?? TimeSpan.Zero) + 3 * CurrentRto;

    /// <summary>Unsolicited repeats of our final acknowledgment while lingering.</summary>
    private const int LingerReacknowledgments = 2;

    private int _lingerReacknowledgments;

    /// <summary>
    /// While lingering, our final ACK (of the peer's FIN) is sent again one RTO after the last
    /// segment we sent, twice. The peer retransmits its FIN only after its own RTO, which may be
    /// backed off far beyond our linger (the peer measured a slower path, or lost earlier
    /// retransmissions); without these repeats one lost ACK would leave it waiting for an
    /// acknowledgment that nobody sends any more. Repeats cost a few bytes and are ignored by a
    /// peer that already has them.
    /// </summary>
    private TimeSpan? LingerReacknowledgmentDue =>
        _state == ReliableStreamState.Lingering && _lingerReacknowledgments < LingerReacknowledgments
            ? _lastSegmentSentTime + CurrentRto
            : null;

    private TimeSpan? PeerTimeoutDeadline =>
        _waitingSince is { } since && !_peerUnresponsive
            ? Max(since, _lastReceiveTime ?? since) + _options.PeerTimeout
            : null;

    private void EnterLingeringIfComplete()
    {
        if (_state == ReliableStreamState.Open && IsComplete)
        {
            _state = ReliableStreamState.Lingering;
        }
    }

    private void EnterReset(uint code, string reason, bool byPeer)
    {
        _state = ReliableStreamState.Reset;
        _resetCode = code;
        _resetReason = reason;
        ResetByPeer = byPeer;
        _ackNow = false;
        _ackDeadline = null;
        _rtoDeadline = _tlpDeadline = _persistDeadline = _rackTimer = _pacingReleaseTime = null;
        _waitingSince = null;
        _sent.Clear();
        _bytesInFlight = 0;
        ReportFlight();
        _lostCount = _sackedCount = 0;
        _outOfOrder.Clear();
    }

    private void ThrowIfReset()
    {
        if (IsReset)
        {
            throw new InvalidOperationException(ResetByPeer
                ? $"The peer reset the stream (code {_resetCode}: {_resetReason})."
                : $"The stream was aborted (code {_resetCode}: {_resetReason}).");
        }
    }

    private static void Earliest(ref TimeSpan? current, TimeSpan? candidate)
    {
        if (candidate is { } c && (current is null || c < current.Value))
        {
            current = c;
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Timestamps are microseconds of the core's clock, modulo 2^32 (RFC 7323 §5.4 allows any monotonic clock).</summary>
    private static uint Microseconds(TimeSpan now) => unchecked((uint)(now.Ticks / 10));
}
