namespace NatPunch.Streams;

/// <summary>
/// Decides the congestion window of one <see cref="ReliableStreamCore"/> (bytes that may be in
/// flight). The core detects losses (RACK, RTO) and tells the controller; the controller only
/// keeps the window. CUBIC (<see cref="CubicCongestionController"/>) is the default, NewReno
/// (<see cref="NewRenoCongestionController"/>) the other; a BBR-like controller would implement the same calls.
/// </summary>
public interface ICongestionController
{
    /// <summary>cwnd in bytes.</summary>
    long Window { get; }

    /// <summary>ssthresh in bytes (<see cref="long.MaxValue"/> before the first loss).</summary>
    long SlowStartThreshold { get; }

    bool InSlowStart { get; }

    /// <summary>
    /// <paramref name="bytes"/> sent at <paramref name="sentTime"/> were acknowledged (cumulatively
    /// or selectively). <paramref name="appLimited"/>: the sender was not using its window, so the
    /// ACK says nothing about the path's capacity (RFC 7661).
    /// </summary>
    void OnAcked(TimeSpan now, TimeSpan sentTime, long bytes, bool appLimited, RttEstimator rtt);

    /// <summary>
    /// Loss was detected by fast retransmit / RACK; <paramref name="latestLostSentTime"/> is when the
    /// most recently sent of the newly lost segments left, so a controller can react once per
    /// loss episode (RFC 6582 §3.2, RFC 6675 §5).
    /// </summary>
    void OnCongestionEvent(TimeSpan now, TimeSpan latestLostSentTime, long bytesInFlight);

    /// <summary>The retransmission timer expired (RFC 5681 §3.1, equation 4 and the loss window).</summary>
    void OnRetransmissionTimeout(TimeSpan now, long bytesInFlight);

    /// <summary>
    /// The stream went from nothing in flight to something (<paramref name="bytesInFlight"/> &gt; 0), or back
    /// to nothing. A controller of one stream has no use for it; one shared by a session's streams
    /// (<see cref="SharedCongestionController"/>) divides its window among the streams that send.
    /// </summary>
    void OnFlightChanged(long bytesInFlight)
    {
    }
}
