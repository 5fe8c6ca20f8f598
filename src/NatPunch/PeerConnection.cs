using System.Net;
using NatPunch.Session;
using NatPunch.Streams;

namespace NatPunch;

/// <summary>
/// An established connection to a peer: the path (direct, or through a TURN relay), the session on it,
/// sealed end to end with keys from a Noise handshake that proved the peer's <see cref="PeerKey"/>, and a
/// reliable byte stream. If the path dies it is re-established through the rendezvous by itself,
/// and <see cref="PathChanged"/> reports the new one. Dispose it to close everything.
/// </summary>
public sealed class PeerConnection : IAsyncDisposable
{
    private readonly PeerAttempt _attempt;
    private readonly PeerNode _node;
    private readonly ReliableStreamOptions _streamOptions;
    private readonly object _gate = new(); // guards _stream's creation
    private ReliableStream? _stream;
    private int _disposed;

    internal PeerConnection(PeerAttempt attempt, PeerNode node, PeerPath path, string peer, Security.PeerKey peerKey, string session, TimeSpan elapsed)
    {
        _attempt = attempt;
        _node = node;
        _streamOptions = ReliableStreamOptions.Default with { PeerTimeout = node.Options.StreamPeerTimeout };
        Path = path;
        Peer = peer;
        PeerKey = peerKey;
        Session = session;
        Elapsed = elapsed;
        node.Adopt(this);
    }

    /// <summary>The UDP path and its sealed session framing (for the library's own tests).</summary>
    internal PeerLink Link => _attempt.Link;

    /// <summary>The node's rendezvous client (for the library's own tests).</summary>
    internal Rendezvous.RendezvousClient Rendezvous => _node.Rendezvous;

    /// <summary>Restarts and candidates that came through the rendezvous unsealed or that did not open: refused.</summary>
    public long RefusedSignals => _attempt.RefusedSignals;

    /// <summary>A restart or an upgrade selected another path (the session's loop reports it).</summary>
    internal void PathSelected(PeerPath path, TimeSpan took)
    {
        Path = path;
        _node.Progress?.Report(new ConnectionProgress.Connected(path, took, PeerKey));
        PathChanged?.Invoke(path);
    }

    /// <summary>
    /// Raised, with the reason, when the session is over by itself: the peer left the rendezvous for
    /// good and the path to it failed, so no restart can bring it back. The stream then fails with
    /// that reason too. Raised on the session's loop: keep handlers quick.
    /// </summary>
    public event Action<string>? Ended;

    /// <summary>The session is over (the peer left and the path failed): the stream ends now, with why.</summary>
    internal void AbortStream(string reason)
    {
        Ended?.Invoke(reason);
        ReliableStream? stream;
        lock (_gate)
        {
            stream = _stream;
        }
        stream?.Abort(StreamResetCode.TransportFailed, reason);
    }

    /// <summary>Set for a connection made by <see cref="PeerConnector"/>: closing it closes its node too.</summary>
    internal bool OwnsNode { get; set; }

    /// <summary>The path carrying data now.</summary>
    public PeerPath Path { get; private set; }

    /// <summary>Raised when a re-established or upgraded path takes over, on the session's loop: keep handlers quick.</summary>
    public event Action<PeerPath>? PathChanged;

    /// <summary>The name the peer registered under.</summary>
    public string Peer { get; }

    /// <summary>The long-term key the peer proved in the handshake: who it is, whatever its name.</summary>
    public Security.PeerKey PeerKey { get; }

    /// <summary>The rendezvous session's id (for logs).</summary>
    public string Session { get; }

    /// <summary>From the start of the connect (for an accepted peer: its introduction) to the path's selection and the handshake.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>This side's UDP socket.</summary>
    public IPEndPoint LocalEndPoint => Link.LocalEndPoint;

    /// <summary>Datagrams that arrived for this session but did not open (forged, replayed, damaged): dropped and counted.</summary>
    public long RefusedDatagrams => Link.RefusedDatagrams;

    /// <summary>
    /// The reliable, ordered byte stream to the peer over the path (one per connection). Its
    /// <see cref="ReliableStream.CompleteWritesAsync"/> returns once the peer has every byte.
    /// </summary>
    public ReliableStream Stream
    {
        get
        {
            lock (_gate)
            {
                return _stream ??= new ReliableStream(Link, _streamOptions, _node.Options.TimeProvider);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        ReliableStream? stream;
        lock (_gate)
        {
            stream = _stream;
        }
        if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        await Link.DisposeAsync().ConfigureAwait(false);
        _node.Rendezvous.EndSession(Session);
        _node.Forget(_attempt);
        _node.Forget(this);
        if (OwnsNode)
        {
            await _node.DisposeAsync().ConfigureAwait(false);
        }
    }
}
