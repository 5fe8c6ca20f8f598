namespace NatPunch.Streams;

/// <summary>A snapshot of a <see cref="ReliableStreamCore"/>'s counters and estimates.</summary>
public readonly record struct ReliableStreamStatistics
{
    /// <summary>Bytes accepted by Write.</summary>
    public long BytesWritten { get; init; }

    /// <summary>Payload bytes put on the wire, retransmissions included.</summary>
    public long BytesSent { get; init; }

    /// <summary>Payload bytes sent again for loss (RACK, RTO, tail loss probes, a change of path); window probes are counted apart (<see cref="WindowProbes"/>).</summary>
    public long BytesRetransmitted { get; init; }

    /// <summary>Our payload bytes cumulatively acknowledged by the peer.</summary>
    public long BytesAcknowledged { get; init; }

    /// <summary>Unique in-order payload bytes received from the peer.</summary>
    public long BytesReceived { get; init; }

    /// <summary>Bytes handed to Read.</summary>
    public long BytesRead { get; init; }

    public long SegmentsSent { get; init; }

    public long SegmentsRetransmitted { get; init; }

    public long SegmentsReceived { get; init; }

    /// <summary>Segments that carried only data we already had.</summary>
    public long DuplicateSegments { get; init; }

    /// <summary>Segments dropped whole: unparsable, another stream's, acknowledging unsent data, or contradicting the end of stream.</summary>
    public long SegmentsDropped { get; init; }

    /// <summary>Of <see cref="SegmentsDropped"/>, those that did not parse.</summary>
    public long MalformedSegments { get; init; }

    /// <summary>Segments declared lost (by RACK or by a timeout).</summary>
    public long SegmentsLost { get; init; }

    /// <summary>Congestion-window reductions by fast recovery (one per loss episode).</summary>
    public long CongestionEvents { get; init; }

    public long RetransmissionTimeouts { get; init; }

    public long TailLossProbes { get; init; }

    public long WindowProbes { get; init; }

    public long AcksSent { get; init; }

    public TimeSpan? SmoothedRtt { get; init; }

    public TimeSpan? RttVariation { get; init; }

    public TimeSpan? MinRtt { get; init; }

    public TimeSpan Rto { get; init; }

    public long CongestionWindow { get; init; }

    public long SlowStartThreshold { get; init; }

    public long BytesInFlight { get; init; }

    /// <summary>The peer's advertised window beyond our next new byte.</summary>
    public long PeerWindow { get; init; }
}
