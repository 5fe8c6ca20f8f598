namespace NatPunch.Streams.Internal;

/// <summary>
/// One transmitted range of the send sequence space, kept until it is cumulatively acknowledged:
/// the sender's scoreboard entry (RFC 6675 §3) plus what RACK needs (RFC 8985 §5.2).
/// Ranges never overlap and are kept in sequence order; a retransmission resends the same range.
/// </summary>
internal sealed class SentSegment
{
    public SentSegment(long start, long end, bool fin)
    {
        Start = start;
        End = end;
        Fin = fin;
    }

    /// <summary>First sequence number; moves up if a cumulative ACK covers only part of the range.</summary>
    public long Start { get; set; }

    /// <summary>One past the last sequence number; includes the FIN's slot when <see cref="Fin"/>.</summary>
    public long End { get; }

    public bool Fin { get; }

    /// <summary>Payload bytes: the range without the FIN slot.</summary>
    public int PayloadLength => (int)(End - Start - (Fin ? 1 : 0));

    public long Size => End - Start;

    /// <summary>Time of the most recent transmission (RACK's xmit_ts).</summary>
    public TimeSpan LastSentTime { get; set; }

    public int TransmitCount { get; set; }

    /// <summary>Reported received by a SACK block; receivers never renege (docs/stream-protocol.md).</summary>
    public bool Sacked { get; set; }

    /// <summary>Declared lost and not yet retransmitted.</summary>
    public bool Lost { get; set; }

    /// <summary>Counted in the sender's bytes-in-flight ("pipe", RFC 6675 §4).</summary>
    public bool InFlight { get; set; }

    /// <summary>A one-byte window probe sent past a closed window; the receiver may have dropped it.</summary>
    public bool IsWindowProbe { get; set; }
}
