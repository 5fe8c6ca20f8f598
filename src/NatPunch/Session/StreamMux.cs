using System.Buffers.Binary;
using System.Threading.Channels;
using NatPunch.Security;
using NatPunch.Streams;

namespace NatPunch.Session;

/// <summary>
/// Many streams and datagrams over one session. Each stream is a <see cref="ReliableStream"/> of its
/// own, with its own reliability, flow control, half-close and reset, so a stalled stream never
/// blocks another; segments are told apart by their stream id (<see cref="StreamDirectory"/> says
/// which ids exist and how many each side may open). Datagrams are unreliable and unordered.
/// </summary>
/// <remarks>
/// Segments arrive on the session's receiving thread (<see cref="ISegmentReceiver"/>) and go straight
/// to their stream's loop; the mux takes one lock per segment, to find the stream.
/// </remarks>
internal sealed class StreamMux : ISegmentReceiver, IAsyncDisposable
{
    /// <summary>While blocked by the peer's limit, ask it again this often (its answer may be lost).</summary>
    public static readonly TimeSpan AskAgainAfter = TimeSpan.FromSeconds(1);

    /// <summary>Datagrams kept for a reader that is behind; older ones are dropped first.</summary>
    public const int DatagramBacklog = 256;

    private readonly IStreamMuxHost _host;
    private readonly ReliableStreamOptions _streamOptions;
    private readonly TimeProvider _time;
    private readonly object _gate = new(); // guards _directory, _streams, _limitRaised, _defaultClosed, _ended, _pathReliable
    private readonly StreamDirectory _directory;
    private readonly Dictionary<uint, (MuxedSegmentChannel Channel, ReliableStream Stream)> _streams = [];
    private readonly Channel<ReliableStream> _incoming = Channel.CreateUnbounded<ReliableStream>();
    private readonly Channel<byte[]> _datagrams;
    private TaskCompletionSource? _limitRaised;
    private bool _defaultClosed;
    private Exception? _ended;
    private long _refusedSegments;
    private long _staleSegments;
    private long _droppedDatagrams;
    private bool _pathReliable;

    /// <param name="initiator">Whether this side initiated the session's handshake (it opens even stream ids).</param>
    /// <param name="maxIncomingStreams">How many of the peer's streams may be open at once (announced to it).</param>
    public StreamMux(IStreamMuxHost host, bool initiator, uint maxIncomingStreams, ReliableStreamOptions options, TimeProvider time)
    {
        _host = host;
        _time = time;
        _directory = new StreamDirectory(initiator, maxIncomingStreams);
        // One window for the session's streams, which share one path: each stream's controller is a share of it.
        var congestion = new SharedCongestionController(options.CongestionControllerFactory(options.MaxPayloadSize, options.InitialWindowSegments), time);
        _streamOptions = options with { CongestionControllerFactory = (_, _) => congestion.Join() };
        _datagrams = Channel.CreateBounded<byte[]>(
            new BoundedChannelOptions(DatagramBacklog) { FullMode = BoundedChannelFullMode.DropOldest },
            _ => Interlocked.Increment(ref _droppedDatagrams));
        AnnounceLimit(_directory.IncomingLimit);
    }

    /// <summary>Segments with an id the peer may not use (beyond our limit, or never opened).</summary>
    public long RefusedSegments => Interlocked.Read(ref _refusedSegments);

    /// <summary>Late segments of streams already closed here.</summary>
    public long StaleSegments => Interlocked.Read(ref _staleSegments);

    /// <summary>Datagrams that arrived while <see cref="DatagramBacklog"/> waited unread: the oldest were dropped.</summary>
    public long DroppedDatagrams => Interlocked.Read(ref _droppedDatagrams);

    /// <summary>Streams open now, the default stream included.</summary>
    public int OpenStreams
    {
        get
        {
            lock (_gate)
            {
                return _streams.Count;
            }
        }
    }

    /// <summary>The session's default stream (id 0), open on both sides without being opened.</summary>
    public ReliableStream DefaultStream
    {
        get
        {
            lock (_gate)
            {
                ThrowIfEndedLocked();
                if (_streams.TryGetValue(StreamDirectory.DefaultStream, out var live))
                {
                    return live.Stream;
                }
                if (_defaultClosed)
                {
                    throw new ObjectDisposedException(nameof(ReliableStream), "The session's default stream was closed.");
                }
                return CreateLocked(StreamDirectory.DefaultStream);
            }
        }
    }

    /// <summary>Opens a new stream, waiting while the peer's limit of concurrent streams is reached.</summary>
    public async Task<ReliableStream> OpenAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task raised;
            uint blockedAt;
            lock (_gate)
            {
                ThrowIfEndedLocked();
                if (_directory.TryOpen(out uint id))
                {
                    return CreateLocked(id);
                }
                _limitRaised ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                raised = _limitRaised.Task;
                blockedAt = _directory.PeerLimit;
            }
            SendCount(SessionMessageType.StreamsBlocked, blockedAt);
            try
            {
                await raised.WaitAsync(AskAgainAfter, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Ask again: our question or its answer may have been lost.
            }
        }
    }

    /// <summary>The next stream the peer opened.</summary>
    public async Task<ReliableStream> AcceptAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _incoming.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException closed)
        {
            throw Ended(closed.InnerException);
        }
    }

    /// <summary>Sends one datagram, sealed; it may be lost, duplicated or reordered.</summary>
    /// <exception cref="DatagramTooLargeException">It does not fit the path in one packet.</exception>
    public void SendDatagram(ReadOnlySpan<byte> datagram)
    {
        int max = _host.MaxDatagramSize;
        if (datagram.Length > max)
        {
            throw new DatagramTooLargeException(datagram.Length, max);
        }
        lock (_gate)
        {
            ThrowIfEndedLocked();
        }
        _host.SendMessage(SessionMessageType.Datagram, datagram);
    }

    /// <summary>The next datagram from the peer.</summary>
    public async Task<byte[]> ReceiveDatagramAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _datagrams.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException closed)
        {
            throw Ended(closed.InnerException);
        }
    }

    /// <summary>A segment from the peer, on the receiving thread: to its stream, opening it if the peer just did.</summary>
    public void OnSegment(ReadOnlySpan<byte> segment)
    {
        if (!StreamSegment.TryReadStreamId(segment, out uint id))
        {
            Interlocked.Increment(ref _refusedSegments);
            return;
        }
        MuxedSegmentChannel channel;
        lock (_gate)
        {
            if (_streams.TryGetValue(id, out var live))
            {
                channel = live.Channel;
            }
            else
            {
                if (_ended is not null)
                {
                    return;
                }
                switch (id == StreamDirectory.DefaultStream && _defaultClosed ? StreamArrival.Stale : _directory.Arrive(id))
                {
                    case StreamArrival.Stale:
                        Interlocked.Increment(ref _staleSegments);
                        return;
                    case StreamArrival.Violation:
                        Interlocked.Increment(ref _refusedSegments);
                        return;
                }
                ReliableStream stream = CreateLocked(id);
                channel = _streams[id].Channel;
                if (id != StreamDirectory.DefaultStream)
                {
                    _incoming.Writer.TryWrite(stream);
                }
            }
        }
        channel.Deliver(segment);
    }

    /// <summary>A sealed session message for the mux (stream limits, datagrams); false if it is not one.</summary>
    public bool OnMessage(SessionMessageType type, ReadOnlySpan<byte> body)
    {
        switch (type)
        {
            case SessionMessageType.Datagram:
                _datagrams.Writer.TryWrite(body.ToArray());
                return true;
            case SessionMessageType.MaxStreams when body.Length == 4:
                TaskCompletionSource? raised = null;
                lock (_gate)
                {
                    if (_directory.RaisePeerLimit(BinaryPrimitives.ReadUInt32BigEndian(body)))
                    {
                        raised = _limitRaised;
                        _limitRaised = null;
                    }
                }
                raised?.TrySetResult();
                return true;
            case SessionMessageType.StreamsBlocked when body.Length == 4:
                uint limit;
                lock (_gate)
                {
                    limit = _directory.IncomingLimit;
                }
                AnnounceLimit(limit);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// The session's data moved to a path that is (<paramref name="reliable"/>: a TCP connection) or is
    /// not reliable itself: every stream, and every later one, is told, so that none retransmits on TCP.
    /// </summary>
    public void OnPathChanged(bool reliable)
    {
        lock (_gate)
        {
            if (_pathReliable == reliable)
            {
                return;
            }
            _pathReliable = reliable;
            foreach (var (_, stream) in _streams.Values)
            {
                stream.SetPathReliable(reliable);
            }
        }
    }

    /// <summary>The session's data path is gone for good: every stream fails, nothing more is accepted.</summary>
    public void OnChannelClosed(Exception reason) => End(reason, abortWith: null);

    /// <summary>The session is over (the peer left and the path failed): every stream is reset with <paramref name="reason"/>.</summary>
    public void Abort(string reason) => End(new IOException($"the session ended: {reason}"), abortWith: reason);

    public async ValueTask DisposeAsync()
    {
        ReliableStream[] streams;
        lock (_gate)
        {
            _ended ??= new ObjectDisposedException(nameof(PeerConnection));
            streams = [.. _streams.Values.Select(live => live.Stream)];
        }
        _incoming.Writer.TryComplete(_ended);
        _datagrams.Writer.TryComplete(_ended);
        // Streams the application did not take are reset; its own linger or reset as they were left. All
        // at once: a clean stream lingers a few round trips, and a session may hold hundreds.
        var closing = new List<Task>();
        while (_incoming.Reader.TryRead(out ReliableStream? unaccepted))
        {
            closing.Add(unaccepted.DisposeAsync().AsTask());
        }
        closing.AddRange(streams.Select(stream => stream.DisposeAsync().AsTask()));
        await Task.WhenAll(closing).ConfigureAwait(false);
    }

    /// <param name="abortWith">Reset each stream with this reason; null: tell each stream its channel closed.</param>
    private void End(Exception reason, string? abortWith)
    {
        (MuxedSegmentChannel Channel, ReliableStream Stream)[] streams;
        TaskCompletionSource? raised;
        lock (_gate)
        {
            _ended ??= reason;
            streams = [.. _streams.Values];
            raised = _limitRaised;
            _limitRaised = null;
        }
        _incoming.Writer.TryComplete(reason);
        _datagrams.Writer.TryComplete(reason);
        raised?.TrySetException(reason);
        foreach ((MuxedSegmentChannel channel, ReliableStream stream) in streams)
        {
            if (abortWith is not null)
            {
                stream.Abort(StreamResetCode.TransportFailed, abortWith);
            }
            else
            {
                channel.Close(reason);
            }
        }
    }

    private ReliableStream CreateLocked(uint id)
    {
        var channel = new MuxedSegmentChannel(_host);
        var stream = new ReliableStream(channel, _streamOptions with { StreamId = id }, _time);
        if (_pathReliable)
        {
            stream.SetPathReliable(true);
        }
        _streams[id] = (channel, stream);
        stream.Completion.ContinueWith(_ => OnStreamDone(id), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return stream;
    }

    /// <summary>A stream was disposed and is done: forget its id; if the peer opened it, it may open another.</summary>
    private void OnStreamDone(uint id)
    {
        uint? announce = null;
        lock (_gate)
        {
            _streams.Remove(id);
            if (id == StreamDirectory.DefaultStream)
            {
                _defaultClosed = true;
            }
            else if (_directory.IsRemote(id))
            {
                announce = _directory.RemoteStreamClosed();
            }
        }
        if (announce is { } limit)
        {
            AnnounceLimit(limit);
        }
    }

    private void AnnounceLimit(uint limit) => SendCount(SessionMessageType.MaxStreams, limit);

    private void SendCount(SessionMessageType type, uint count)
    {
        Span<byte> body = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(body, count);
        _host.SendMessage(type, body);
    }

    private void ThrowIfEndedLocked()
    {
        if (_ended is not null)
        {
            throw Ended(_ended);
        }
    }

    private static Exception Ended(Exception? reason) => reason switch
    {
        ObjectDisposedException disposed => new ObjectDisposedException(disposed.ObjectName, "The connection is closed."),
        IOException io => new IOException(io.Message, io),
        null => new IOException("the session ended"),
        _ => new IOException($"the session ended: {reason.Message}", reason),
    };
}
