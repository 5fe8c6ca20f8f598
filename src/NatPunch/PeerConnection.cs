using System.Net;
using NatPunch.Session;
using NatPunch.Streams;

namespace NatPunch;

/// <summary>
/// An established connection to a peer: the path (direct, or through a TURN relay), the session on it,
/// sealed end to end with keys from a Noise handshake that proved the peer's <see cref="PeerKey"/>, and on
/// it any number of reliable byte streams (<see cref="OpenStreamAsync"/>, <see cref="AcceptStreamAsync"/>,
/// the default <see cref="Stream"/>) and unreliable datagrams. If the path dies it is re-established
/// through the rendezvous by itself, under the open streams, and <see cref="PathChanged"/> reports the
/// new one. Dispose it to close everything.
/// </summary>
public sealed class PeerConnection : IAsyncDisposable
{
    private readonly PeerAttempt _attempt;
    private readonly PeerNode _node;
    private readonly StreamMux _mux;
    private int _disposed;

    internal PeerConnection(PeerAttempt attempt, PeerNode node, PeerPath path, string peer, Security.PeerKey peerKey, string session, TimeSpan elapsed)
    {
        _attempt = attempt;
        _node = node;
        var streamOptions = ReliableStreamOptions.Default with { PeerTimeout = node.Options.StreamPeerTimeout };
        _mux = new StreamMux(attempt.Link, attempt.Initiator, node.Options.MaxIncomingStreams, streamOptions, node.Options.TimeProvider);
        attempt.Link.Attach(_mux);
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
        _node.Progress?.Report(new ConnectionProgress.Connected(path, took, PeerKey, Probing: Link.AgentOnLoop.Probing,
            Route: Link.AgentOnLoop.RouteToPeer, HeldForPeerOpening: Link.AgentOnLoop.HeldForPeerOpening));
        PathChanged?.Invoke(path);
    }

    /// <summary>
    /// Raised, with the reason, when the session is over by itself: the peer left the rendezvous for
    /// good and the path to it failed, so no restart can bring it back. Every stream then fails with
    /// that reason too. Raised on the session's loop: keep handlers quick.
    /// </summary>
    public event Action<string>? Ended;

    /// <summary>The session is over (the peer left and the path failed): the streams end now, with why.</summary>
    internal void AbortStreams(string reason)
    {
        Ended?.Invoke(reason);
        _mux.Abort(reason);
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
    /// The session's default stream: reliable and ordered, open on both sides without being opened
    /// (what <c>natpunch listen</c>/<c>connect</c> pipe). Its <see cref="ReliableStream.CompleteWritesAsync"/>
    /// returns once the peer has every byte.
    /// </summary>
    public ReliableStream Stream => _mux.DefaultStream;

    /// <summary>
    /// Opens a new stream to the peer, which gets it from <see cref="AcceptStreamAsync"/> once the first
    /// bytes (or the end of stream) arrive. Waits while the peer's limit of concurrent streams is reached
    /// (<see cref="PeerOptions.MaxIncomingStreams"/> on its side). Each stream has its own flow control, end
    /// of stream and reset; disposing it frees its place.
    /// </summary>
    public Task<ReliableStream> OpenStreamAsync(CancellationToken cancellationToken = default) => _mux.OpenAsync(cancellationToken);

    /// <summary>The next stream the peer opened. Throws <see cref="IOException"/> once the session has ended.</summary>
    public Task<ReliableStream> AcceptStreamAsync(CancellationToken cancellationToken = default) => _mux.AcceptAsync(cancellationToken);

    /// <summary>Streams open now (the default stream included once used).</summary>
    public int OpenStreams => _mux.OpenStreams;

    /// <summary>The largest datagram the current path carries (<see cref="SendDatagram"/>); it can change with the path.</summary>
    public int MaxDatagramSize => Link.MaxDatagramSize;

    /// <summary>
    /// Sends one datagram to the peer, sealed like everything else: unreliable and unordered (it may be
    /// lost, and is not retransmitted), for voice, video, games.
    /// </summary>
    /// <exception cref="DatagramTooLargeException">Larger than <see cref="MaxDatagramSize"/>.</exception>
    public void SendDatagram(ReadOnlySpan<byte> datagram) => _mux.SendDatagram(datagram);

    /// <summary>The next datagram from the peer (the oldest are dropped while more than 256 wait unread).</summary>
    public Task<byte[]> ReceiveDatagramAsync(CancellationToken cancellationToken = default) => _mux.ReceiveDatagramAsync(cancellationToken);

    /// <summary>Datagrams from the peer dropped because the reader was behind.</summary>
    public long DroppedDatagrams => _mux.DroppedDatagrams;

    /// <summary>
    /// Sends one ping over the path that carries data and returns the round-trip time when the peer's
    /// answer arrives; cancel it to give up (a lost ping is never answered).
    /// </summary>
    public Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default) => Link.PingAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _mux.DisposeAsync().ConfigureAwait(false);
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
