namespace NatPunch.Streams;

/// <summary>Settings of one reliable stream (<see cref="ReliableStreamCore"/>, <see cref="ReliableStream"/>).</summary>
public sealed record ReliableStreamOptions
{
    public static ReliableStreamOptions Default { get; } = new();

    /// <summary>Largest buffer allowed; keeps every window far below 2^31 so 32-bit wire sequence numbers stay unambiguous.</summary>
    public const int MaxBufferSize = 256 * 1024 * 1024;

    /// <summary>
    /// The window a sender assumes before it has heard from the peer; every receive buffer is at
    /// least this large (docs/stream-protocol.md, "Flow control").
    /// </summary>
    public const int AssumedInitialWindow = 64 * 1024;

    /// <summary>Smallest <see cref="MaxSegmentSize"/>: header, three SACK blocks and some payload.</summary>
    public const int MinSegmentSize = 128;

    /// <summary>
    /// SACK room reserved in every data segment so that a retransmission (same range, fresh SACK
    /// blocks) always fits: the count byte and three blocks, as TCP has room for with timestamps.
    /// </summary>
    public const int DataSegmentSackBlocks = 3;

    /// <summary>Stream id written into and required of every segment.</summary>
    public uint StreamId { get; init; }

    /// <summary>
    /// Largest segment handed to the layer below, header included. 1200 leaves room for a session
    /// header, an AEAD tag and IPv6/UDP headers within a 1280-byte minimum MTU.
    /// </summary>
    public int MaxSegmentSize { get; init; } = 1200;

    /// <summary>Bytes accepted by Write but not yet acknowledged.</summary>
    public int SendBufferSize { get; init; } = 1024 * 1024;

    /// <summary>Bytes received but not yet read; the advertised window never exceeds what is free.</summary>
    public int ReceiveBufferSize { get; init; } = 1024 * 1024;

    /// <summary>RTO before the first RTT sample (RFC 6298 §2.1 says 1 s).</summary>
    public TimeSpan InitialRto { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Lower bound of the RTO. RFC 6298 §2.4 says 1 s for TCP; user-space over UDP with RACK can afford less.</summary>
    public TimeSpan MinRto { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Upper bound of the backed-off RTO and of the persist interval (RFC 6298 §2.5 allows ≥ 60 s; we prefer to probe more often).</summary>
    public TimeSpan MaxRto { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest an in-order segment may wait for a coalesced ACK (RFC 5681 §4.2: under 500 ms; RFC 9000 uses 25 ms).</summary>
    public TimeSpan AckDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Acknowledge at least every this many in-order data segments (RFC 5681 §4.2: every second full segment).</summary>
    public int AckEverySegments { get; init; } = 2;

    /// <summary>
    /// While we wait for the peer (data or FIN unacknowledged, or a window probe outstanding) and
    /// nothing at all arrives from it for this long, <see cref="ReliableStreamCore.IsPeerUnresponsive"/>
    /// turns true. The session above decides what that means.
    /// </summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Initial congestion window in segments (RFC 6928).</summary>
    public int InitialWindowSegments { get; init; } = 10;

    /// <summary>Send tail loss probes (RFC 8985 §7) so a lost last segment is repaired after ~2 RTT rather than an RTO.</summary>
    public bool TailLossProbe { get; init; } = true;

    /// <summary>Pace transmissions at ~cwnd/SRTT instead of sending window-sized bursts.</summary>
    public bool Pacing { get; init; } = true;

    /// <summary>
    /// Creates the congestion controller, given the largest payload per segment (SMSS) and
    /// <see cref="InitialWindowSegments"/>. Default: <see cref="CubicCongestionController"/>; <see cref="NewRenoCongestionController"/> is the other one built in.
    /// </summary>
    public Func<int, int, ICongestionController> CongestionControllerFactory { get; init; } =
        static (segmentSize, initialWindow) => new CubicCongestionController(segmentSize, initialWindow);

    /// <summary>Largest payload of a data segment: the segment minus the header and the reserved SACK room.</summary>
    public int MaxPayloadSize =>
        MaxSegmentSize - StreamSegment.HeaderSize - 1 - DataSegmentSackBlocks * StreamSegment.SackBlockSize;

    /// <summary>Throws <see cref="ArgumentException"/> for settings the core cannot work with.</summary>
    public void Validate()
    {
        if (MaxSegmentSize is < MinSegmentSize or > ushort.MaxValue)
        {
            throw new ArgumentException($"MaxSegmentSize must be within [{MinSegmentSize}, {ushort.MaxValue}].");
        }
        if (SendBufferSize < MaxPayloadSize || SendBufferSize > MaxBufferSize)
        {
            throw new ArgumentException($"SendBufferSize must be within [{MaxPayloadSize}, {MaxBufferSize}].");
        }
        if (ReceiveBufferSize is < AssumedInitialWindow or > MaxBufferSize)
        {
            throw new ArgumentException($"ReceiveBufferSize must be within [{AssumedInitialWindow}, {MaxBufferSize}].");
        }
        if (MinRto <= TimeSpan.Zero || MaxRto < MinRto || InitialRto <= TimeSpan.Zero)
        {
            throw new ArgumentException("Need 0 < MinRto <= MaxRto and InitialRto > 0.");
        }
        if (AckDelay < TimeSpan.Zero || AckEverySegments < 1 || InitialWindowSegments < 1)
        {
            throw new ArgumentException("AckDelay must be >= 0, AckEverySegments and InitialWindowSegments >= 1.");
        }
        if (PeerTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("PeerTimeout must be positive.");
        }
        ArgumentNullException.ThrowIfNull(CongestionControllerFactory);
    }
}
