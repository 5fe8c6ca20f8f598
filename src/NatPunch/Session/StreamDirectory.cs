namespace NatPunch.Session;

/// <summary>
/// Which stream ids of a session exist and how many each side may open: a core without I/O, owned
/// by <see cref="StreamMux"/> under its lock.
/// </summary>
/// <remarks>
/// <para>
/// Ids: stream 0 is the session's default stream, open on both sides from the start and never
/// counted. The handshake's initiator opens 2, 4, 6, …, the responder 1, 3, 5, …, so the two never
/// pick the same id and an id is never reused in a session. The n-th stream a side opens is its
/// index n.
/// </para>
/// <para>
/// Limits, as QUIC's MAX_STREAMS (RFC 9000 §4.6): each side announces a cumulative count of streams
/// the peer may open (indices below it). It starts at <see cref="MaxConcurrentIncoming"/> and grows by
/// one for each of the peer's streams that closes, so at most that many of the peer's streams are
/// open at once. Until the peer's first announcement arrives, we may open none. The announcement is
/// an unreliable sealed message: a side that is blocked asks again (<c>StreamsBlocked</c>) and the
/// peer answers with its current count, so a lost one costs a retry, never a hang.
/// </para>
/// </remarks>
internal sealed class StreamDirectory
{
    /// <summary>The session's default stream: open on both sides without being opened.</summary>
    public const uint DefaultStream = 0;

    /// <summary>Ids are 32 bits and each side has every other one.</summary>
    public const uint MaxIndex = (uint.MaxValue - 2) / 2;

    private readonly uint _firstLocal;
    private readonly uint _firstRemote;
    // Indices of the peer's streams already seen, at or above _seenFloor; every index below it was seen.
    private readonly HashSet<uint> _seenAbove = [];
    private uint _seenFloor;
    private uint _localOpened;
    private uint _remoteClosed;

    /// <param name="initiator">Whether this side initiated the handshake (it opens even ids).</param>
    /// <param name="maxConcurrentIncoming">How many of the peer's streams may be open at once.</param>
    public StreamDirectory(bool initiator, uint maxConcurrentIncoming)
    {
        _firstLocal = initiator ? 2u : 1u;
        _firstRemote = initiator ? 1u : 2u;
        MaxConcurrentIncoming = Math.Min(maxConcurrentIncoming, MaxIndex);
    }

    public uint MaxConcurrentIncoming { get; }

    /// <summary>How many streams the peer lets us open in all (its latest announcement).</summary>
    public uint PeerLimit { get; private set; }

    /// <summary>How many streams we let the peer open in all: announce this.</summary>
    public uint IncomingLimit => (uint)Math.Min((ulong)_remoteClosed + MaxConcurrentIncoming, MaxIndex);

    /// <summary>Whether opening a stream must wait for the peer to allow more.</summary>
    public bool Blocked => _localOpened >= PeerLimit;

    /// <summary>Takes the next local id, or false while the peer's limit is reached.</summary>
    public bool TryOpen(out uint id)
    {
        if (Blocked)
        {
            id = 0;
            return false;
        }
        id = _firstLocal + (2 * _localOpened);
        _localOpened++;
        return true;
    }

    /// <summary>The peer's MAX_STREAMS: true if it let us open more (counts only ever grow; older ones are ignored).</summary>
    public bool RaisePeerLimit(uint limit)
    {
        limit = Math.Min(limit, MaxIndex);
        if (limit <= PeerLimit)
        {
            return false;
        }
        PeerLimit = limit;
        return true;
    }

    /// <summary>What a segment for an id with no live stream means.</summary>
    public StreamArrival Arrive(uint id)
    {
        if (id == DefaultStream)
        {
            return StreamArrival.New;
        }
        if ((id & 1) != (_firstRemote & 1))
        {
            // One of our ids: a stream we opened and closed (a late segment), or one we never opened.
            return (id - _firstLocal) / 2 < _localOpened ? StreamArrival.Stale : StreamArrival.Violation;
        }
        uint index = (id - _firstRemote) / 2;
        if (index >= IncomingLimit)
        {
            return StreamArrival.Violation; // the peer ignored our limit
        }
        if (index < _seenFloor || !_seenAbove.Add(index))
        {
            return StreamArrival.Stale; // it was open once and is closed now
        }
        while (_seenAbove.Remove(_seenFloor))
        {
            _seenFloor++;
        }
        return StreamArrival.New;
    }

    /// <summary>One of the peer's streams is closed here: it may open one more. Returns the count to announce.</summary>
    public uint RemoteStreamClosed()
    {
        _remoteClosed++;
        return IncomingLimit;
    }

    /// <summary>Whether <paramref name="id"/> is one the peer opens (not the default stream, not ours).</summary>
    public bool IsRemote(uint id) => id != DefaultStream && (id & 1) == (_firstRemote & 1);
}

/// <summary>What a segment for a stream id that has no live stream means (<see cref="StreamDirectory.Arrive"/>).</summary>
internal enum StreamArrival
{
    /// <summary>The peer opened this stream (or it is the default stream, first used by the peer): create it.</summary>
    New,

    /// <summary>A stream that existed and is closed: a late segment, dropped.</summary>
    Stale,

    /// <summary>An id the peer may not use (beyond our limit, or ours and never opened): dropped and counted.</summary>
    Violation,
}
