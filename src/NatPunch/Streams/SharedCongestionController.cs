namespace NatPunch.Streams;

/// <summary>
/// One congestion controller for all the streams of a session, as QUIC has one per connection: the
/// streams share one path, so they share one window. Each stream gets a share (<see cref="Join()"/>)
/// to use as its own controller. ACKs from any stream grow the one window, a loss in any stream
/// reduces it (once per loss episode, whichever stream saw it), and each stream may have an equal
/// part of it in flight: the window divided among the streams that have bytes in flight. So a
/// hundred streams together are as gentle on the path as one, and none starves the others.
/// </summary>
/// <remarks>
/// Thread-safe: the streams of a session run on loops of their own. Each stream's clock starts when
/// the stream does; a share adds the stream's start (its offset from the controller's epoch) to the
/// times it passes on, so that episodes compare across streams.
/// <para>
/// Two departures from a controller of one stream, both because one stream's view is not the
/// session's: an ACK a stream sent application-limited is not passed on (another stream may be using
/// the window to the full, and one stream's idle time is not the session's), and a stream's
/// retransmission timeout counts as a loss episode for the session rather than the collapse to one
/// segment (it says that stream's tail was lost, not that the path stopped carrying the others').
/// </para>
/// </remarks>
public sealed class SharedCongestionController
{
    private readonly object _gate = new();
    private readonly ICongestionController _inner;
    private readonly TimeProvider _time;
    private readonly long _epoch;
    private int _flying;   // shares with bytes in flight

    /// <param name="inner">The session's controller (CUBIC, NewReno, ...), used only through this object.</param>
    /// <param name="time">The clock the streams' own clocks start on.</param>
    public SharedCongestionController(ICongestionController inner, TimeProvider? time = null)
    {
        _inner = inner;
        _time = time ?? TimeProvider.System;
        _epoch = _time.GetTimestamp();
    }

    /// <summary>The session's window in bytes.</summary>
    public long Window
    {
        get
        {
            lock (_gate)
            {
                return _inner.Window;
            }
        }
    }

    /// <summary>Streams that have bytes in flight now.</summary>
    public int SendingStreams => Volatile.Read(ref _flying);

    /// <summary>A controller for one stream that starts now (its clock's zero is now).</summary>
    public ICongestionController Join() => new Share(this, _time.GetElapsedTime(_epoch));

    /// <summary>A controller for one stream whose clock's zero is <paramref name="offset"/> after this controller's epoch.</summary>
    public ICongestionController Join(TimeSpan offset) => new Share(this, offset);

    private sealed class Share(SharedCongestionController shared, TimeSpan offset) : ICongestionController, IDisposable
    {
        private bool _flying;   // guarded by shared._gate

        public long Window
        {
            get
            {
                lock (shared._gate)
                {
                    // Counting this stream as one of those sending, whether or not it already is.
                    int sharing = shared._flying + (_flying ? 0 : 1);
                    return shared._inner.Window / sharing;
                }
            }
        }

        public long SlowStartThreshold
        {
            get
            {
                lock (shared._gate)
                {
                    return shared._inner.SlowStartThreshold;
                }
            }
        }

        public bool InSlowStart
        {
            get
            {
                lock (shared._gate)
                {
                    return shared._inner.InSlowStart;
                }
            }
        }

        public void OnAcked(TimeSpan now, TimeSpan sentTime, long bytes, bool appLimited, RttEstimator rtt)
        {
            if (appLimited)
            {
                return;
            }
            lock (shared._gate)
            {
                shared._inner.OnAcked(now + offset, sentTime + offset, bytes, appLimited: false, rtt);
            }
        }

        public void OnCongestionEvent(TimeSpan now, TimeSpan latestLostSentTime, long bytesInFlight)
        {
            lock (shared._gate)
            {
                shared._inner.OnCongestionEvent(now + offset, latestLostSentTime + offset, bytesInFlight);
            }
        }

        public void OnRetransmissionTimeout(TimeSpan now, long bytesInFlight)
        {
            lock (shared._gate)
            {
                shared._inner.OnCongestionEvent(now + offset, now + offset, bytesInFlight);
            }
        }

        public void OnFlightChanged(long bytesInFlight) => SetFlying(bytesInFlight > 0);

        /// <summary>The stream is gone: it no longer takes a part of the window.</summary>
        public void Dispose() => SetFlying(false);

        private void SetFlying(bool flying)
        {
            lock (shared._gate)
            {
                if (flying != _flying)
                {
                    _flying = flying;
                    shared._flying += flying ? 1 : -1;
                }
            }
        }
    }
}
