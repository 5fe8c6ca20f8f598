using NatPunch.Rendezvous;
using NatPunch.Session;
using NatPunch.Streams;
using NatPunch.Traversal;

namespace NatPunch;

/// <summary>
/// An established connection to a peer: the path (direct, or through a TURN relay), the session on it,
/// sealed end to end with keys from a Noise handshake that proved the peer's <see cref="PeerKey"/>, and a
/// reliable byte stream. If the path dies it is re-established through the rendezvous by itself,
/// and <see cref="PathChanged"/> reports the new one. Dispose it to close everything.
/// </summary>
public sealed class PeerConnection : IAsyncDisposable
{
    private readonly RendezvousClient _rendezvous;
    private readonly TimeProvider _time;
    private readonly PathSupervisor _supervisor;
    private ReliableStream? _stream;
    private int _disposed;

    internal PeerConnection(PeerLink link, RendezvousClient rendezvous, PeerPath path, string peer, Security.PeerKey peerKey, string session, TimeSpan elapsed,
        TimeProvider time, Func<TimeSpan, IceAgent> newAgent, IProgress<ConnectionProgress>? progress, ReliableStreamOptions streamOptions)
    {
        _streamOptions = streamOptions;
        Link = link;
        _rendezvous = rendezvous;
        _time = time;
        Path = path;
        Peer = peer;
        PeerKey = peerKey;
        Session = session;
        Elapsed = elapsed;
        _supervisor = new PathSupervisor(link, rendezvous, session, newAgent, time,
            onPath: (newPath, took) =>
            {
                Path = newPath;
                progress?.Report(new ConnectionProgress.Connected(newPath, took, peerKey));
                PathChanged?.Invoke(newPath);
            },
            onLost: reason => progress?.Report(new ConnectionProgress.PathLost(reason)),
            onEnded: reason =>
            {
                // Nobody will answer a restart: end now rather than at the stream's peer timeout.
                progress?.Report(new ConnectionProgress.PathLost($"{reason}; the session ends"));
                _stream?.Abort(StreamResetCode.TransportFailed, reason);
            });
    }

    /// <summary>The UDP path and its sealed session framing.</summary>
    public PeerLink Link { get; }

    /// <summary>The path carrying data now.</summary>
    public PeerPath Path { get; private set; }

    /// <summary>Raised when a re-established path takes over.</summary>
    public event Action<PeerPath>? PathChanged;

    /// <summary>The name the peer registered under.</summary>
    public string Peer { get; }

    /// <summary>The long-term key the peer proved in the handshake: who it is, whatever its name.</summary>
    public Security.PeerKey PeerKey { get; }

    public string Session { get; }

    /// <summary>From the start of the listen or connect to the selection of the path.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>
    /// The reliable, ordered byte stream to the peer over the path (one per connection). Its
    /// <see cref="ReliableStream.CompleteWritesAsync"/> returns once the peer has every byte.
    /// </summary>
    public ReliableStream Stream => _stream ??= new ReliableStream(Link, _streamOptions, _time);

    private readonly ReliableStreamOptions _streamOptions;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        await _supervisor.DisposeAsync().ConfigureAwait(false);
        await Link.DisposeAsync().ConfigureAwait(false);
        await _rendezvous.DisposeAsync().ConfigureAwait(false);
    }
}
