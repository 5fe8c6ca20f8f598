using NatPunch.Rendezvous;
using NatPunch.Session;
using NatPunch.Streams;

namespace NatPunch;

/// <summary>
/// An established connection to a peer: the path (direct UDP for now) and the session on it.
/// Dispose it to close the path and leave the rendezvous service.
/// </summary>
public sealed class PeerConnection : IAsyncDisposable
{
    private readonly RendezvousClient _rendezvous;

    internal PeerConnection(PeerLink link, RendezvousClient rendezvous, PeerPath path, string peer, string session, TimeSpan elapsed)
    {
        Link = link;
        _rendezvous = rendezvous;
        Path = path;
        Peer = peer;
        Session = session;
        Elapsed = elapsed;
    }

    /// <summary>The UDP path and its session framing.</summary>
    public PeerLink Link { get; }

    /// <summary>The path carrying data now.</summary>
    public PeerPath Path { get; private set; }

    public string Peer { get; }

    public string Session { get; }

    /// <summary>From the start of the listen or connect to the selection of the path.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>
    /// The reliable, ordered byte stream to the peer over the path (one per connection). Its
    /// <see cref="ReliableStream.CompleteWritesAsync"/> returns once the peer has every byte.
    /// </summary>
    public ReliableStream Stream => _stream ??= new ReliableStream(Link, ReliableStreamOptions.Default, _time);

    private ReliableStream? _stream;
    private TimeProvider _time = TimeProvider.System;

    internal PeerConnection WithTime(TimeProvider time)
    {
        _time = time;
        return this;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        await Link.DisposeAsync().ConfigureAwait(false);
        await _rendezvous.DisposeAsync().ConfigureAwait(false);
    }
}
