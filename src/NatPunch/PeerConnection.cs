using NatPunch.Rendezvous;
using NatPunch.Session;

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

    public async ValueTask DisposeAsync()
    {
        await Link.DisposeAsync().ConfigureAwait(false);
        await _rendezvous.DisposeAsync().ConfigureAwait(false);
    }
}
