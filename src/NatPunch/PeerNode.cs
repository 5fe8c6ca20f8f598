using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Net;
using NatPunch.Relay;
using NatPunch.Rendezvous;
using NatPunch.Security;
using NatPunch.Session;

namespace NatPunch;

/// <summary>
/// A peer on the NatPunch network: registered once under <see cref="PeerOptions.Name"/>, it connects
/// to any number of peers by name (<see cref="ConnectAsync"/>) and, when started with
/// <see cref="ListenAsync"/>, accepts any number of peers that connect to it (<see cref="AcceptAsync"/>).
/// Each connection has its own UDP socket, path, keys and stream; they share the node's connection to
/// the rendezvous server, which reconnects by itself. Disposing the node closes every connection it made.
/// </summary>
public sealed class PeerNode : IAsyncDisposable
{
    // Connections made but not yet accepted; beyond this the newest are closed (the peer sees a reset).
    private const int AcceptBacklog = 64;

    private readonly object _gate = new(); // guards the fields below it
    private readonly HashSet<PeerAttempt> _attempts = [];
    private readonly HashSet<PeerConnection> _connections = [];
    private readonly Dictionary<string, SemaphoreSlim> _connectsByPeer = new(StringComparer.Ordinal);
    private readonly List<Task> _punches = [];
    private TurnGrant? _grant;
    private bool _localPortTaken;
    private bool _disposed;

    private readonly Channel<PeerConnection> _accepted = Channel.CreateBounded<PeerConnection>(AcceptBacklog);
    private readonly CancellationTokenSource _stopping = new();
    private readonly bool _accepting;
    private Task _acceptLoop = Task.CompletedTask;

    private PeerNode(PeerOptions options, IProgress<ConnectionProgress>? progress, IPEndPoint[] serverEndPoints, RelayServer? configuredTurn, bool accepting)
    {
        Options = options;
        Progress = progress;
        ServerEndPoints = serverEndPoints;
        ConfiguredTurn = configuredTurn;
        _accepting = accepting;
    }

    /// <summary>The name this node registered under.</summary>
    public string Name => Options.Name;

    /// <summary>The key this node proves to its peers (<see cref="PeerOptions.Identity"/>, or one made for this node alone).</summary>
    public PeerKey Key => (Options.Identity ?? EphemeralIdentity).PublicKey;

    internal PeerOptions Options { get; }

    internal IProgress<ConnectionProgress>? Progress { get; }

    internal IPEndPoint[] ServerEndPoints { get; }

    // Until when sessions do not ask the gateway for a port mapping: it mapped nothing lately.
    private DateTimeOffset _portMappingQuietUntil = DateTimeOffset.MinValue;

    /// <summary>How long a gateway that mapped nothing is left alone: a node making many sessions asks once, not once per session.</summary>
    internal static readonly TimeSpan PortMappingQuietTime = TimeSpan.FromMinutes(5);

    /// <summary>Whether a new session should ask the gateway for a port mapping.</summary>
    internal bool ShouldTryPortMapping
    {
        get
        {
            lock (_gate)
            {
                return Options.PortMapping && Options.TimeProvider.GetUtcNow() >= _portMappingQuietUntil;
            }
        }
    }

    /// <summary>The gateway mapped nothing for a session: the next sessions do not ask for a while.</summary>
    internal void PortMappingUnavailable()
    {
        lock (_gate)
        {
            _portMappingQuietUntil = Options.TimeProvider.GetUtcNow() + PortMappingQuietTime;
        }
    }

    /// <summary>The TURN server named in the options; null: the NatPunch server's own, with the grant of our registration.</summary>
    internal RelayServer? ConfiguredTurn { get; }

    internal RendezvousClient Rendezvous { get; private set; } = null!;

    internal PeerIdentity EphemeralIdentity { get; } = PeerIdentity.Generate();

    /// <summary>How many connections of this node are open.</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_gate)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>Registers and connects to peers by name; peers cannot connect to this node.</summary>
    public static Task<PeerNode> StartAsync(PeerOptions options, IProgress<ConnectionProgress>? progress, CancellationToken cancellationToken) =>
        StartAsync(options, progress, accept: false, acceptLimit: null, cancellationToken);

    /// <summary>Registers with an offer, so that peers can connect to this node: <see cref="AcceptAsync"/> yields them.</summary>
    public static Task<PeerNode> ListenAsync(PeerOptions options, IProgress<ConnectionProgress>? progress, CancellationToken cancellationToken) =>
        StartAsync(options, progress, accept: true, acceptLimit: null, cancellationToken);

    /// <param name="acceptLimit">Stop offering after this many introductions; the last failure ends <see cref="AcceptAsync"/>.</param>
    internal static async Task<PeerNode> StartAsync(PeerOptions options, IProgress<ConnectionProgress>? progress, bool accept, int? acceptLimit,
        CancellationToken cancellationToken)
    {
        if (!ServerAddress.TryParse(options.Server, out ServerAddress address, out string parseError))
        {
            throw new ConnectException($"server '{options.Server}': {parseError}");
        }
        // STUN and the UDP relay: the server's UDP port (the TCP one may be TLS's 443).
        var server = new HostAndPort(address.Host, address.UdpPort);
        IPEndPoint[] serverEndPoints;
        try
        {
            serverEndPoints = [await server.ResolveAsync(cancellationToken: cancellationToken).ConfigureAwait(false)];
        }
        catch (SocketException e)
        {
            throw new ConnectException($"cannot resolve {server.Host}: {e.Message}", e);
        }
        RelayServer? configuredTurn = await ResolveTurnServerAsync(options, cancellationToken).ConfigureAwait(false);
        var node = new PeerNode(options, progress, serverEndPoints, configuredTurn, accept);
        try
        {
            PeerAttempt? listening = null;
            PeerOffer? offer = null;
            if (accept)
            {
                listening = node.NewAttempt();
                await listening.StartConfiguredRelayAsync().ConfigureAwait(false);
                offer = await listening.GatherAsync(cancellationToken).ConfigureAwait(false);
            }
            node.Rendezvous = new RendezvousClient(new RendezvousClientOptions
            {
                Server = options.Server,
                Connection = options.ServerConnection,
                Name = options.Name,
                Token = options.Token,
                TimeProvider = options.TimeProvider,
                ConnectTimeout = accept ? TimeSpan.FromSeconds(10) : options.Timeout,
            });
            node.Rendezvous.StatusChanged += message => progress?.Report(new ConnectionProgress.Status(message));
            node.Rendezvous.RegisteredAgain += registered => node.UseFreshGrant(registered.Turn);
            node.Rendezvous.GrantRenewed += node.UseFreshGrant;
            RegisteredMessage registered = await RendezvousCall(() => node.Rendezvous.StartAsync(offer, cancellationToken)).ConfigureAwait(false);
            lock (node._gate)
            {
                node._grant = registered.Turn;
            }
            progress?.Report(new ConnectionProgress.Registered(registered.Name, registered.Observed));
            if (listening is not null)
            {
                await listening.StartGrantedRelayAsync(registered.Turn).ConfigureAwait(false);
                progress?.Report(new ConnectionProgress.WaitingForPeer(null));
                node._acceptLoop = node.AcceptLoopAsync(listening, acceptLimit, node._stopping.Token);
            }
            return node;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The next peer that connected to this node, once its key is proven and accepted
    /// (<see cref="PeerOptions.AllowedKeys"/>, <see cref="PeerOptions.KnownPeers"/>). A peer whose
    /// attempt fails is reported through the progress and does not end the listening.
    /// </summary>
    public async Task<PeerConnection> AcceptAsync(CancellationToken cancellationToken)
    {
        if (!_accepting)
        {
            throw new InvalidOperationException("This node was started without listening (PeerNode.ListenAsync accepts peers).");
        }
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException closed)
        {
            throw closed.InnerException as ConnectException ?? new ConnectException("the node no longer accepts peers", closed.InnerException ?? closed);
        }
    }

    /// <summary>
    /// Connects to the peer registered as <paramref name="peer"/>, waiting for it to register up to
    /// <see cref="PeerOptions.Timeout"/>, and returns once a path works and the peer's key is proven
    /// (<see cref="PeerOptions.PeerKey"/>, <see cref="PeerOptions.KnownPeers"/>). Throws
    /// <see cref="ConnectException"/> saying why it could not.
    /// </summary>
    public async Task<PeerConnection> ConnectAsync(string peer, CancellationToken cancellationToken)
    {
        long started = Options.TimeProvider.GetTimestamp();
        PeerAttempt attempt = NewAttempt();
        string? session = null;
        try
        {
            PeerOffer offer = await attempt.PrepareAsync(CurrentGrant, cancellationToken).ConfigureAwait(false);
            if (attempt.RelayOnlyFailed.IsCompleted)
            {
                await attempt.RelayOnlyFailed.ConfigureAwait(false); // throws why
            }
            Progress?.Report(new ConnectionProgress.WaitingForPeer(peer));
            IntroduceMessage introduction;
            // The rendezvous takes one connect per peer at a time: a second one to the same peer waits its turn.
            SemaphoreSlim turn = ConnectTurn(peer);
            await turn.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                TimeSpan wait = Options.Timeout - Options.TimeProvider.GetElapsedTime(started);
                introduction = await RendezvousCall(() => Rendezvous.ConnectToPeerAsync(peer, offer, wait > TimeSpan.Zero ? wait : TimeSpan.Zero, cancellationToken)).ConfigureAwait(false);
            }
            finally
            {
                turn.Release();
            }
            session = introduction.Session;
            return await attempt.PunchAsync(introduction, connecting: true, started, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (session is not null)
            {
                Rendezvous.EndSession(session);
            }
            await attempt.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Offers, waits for an introduction, punches it in the background, offers afresh; until the limit
    /// or disposal. Each offer serves one session, so the next peer's socket and offer are gathered
    /// while the current one waits: an introduction is followed by the next offer at once, one round
    /// trip to the server, instead of after a gathering (which held peers that came in a crowd).
    /// </summary>
    private async Task AcceptLoopAsync(PeerAttempt first, int? acceptLimit, CancellationToken cancellationToken)
    {
        // The attempt whose offer the server holds; null while the one introduced is the punch's and the next is not ready.
        PeerAttempt? listening = first;
        int introduced = 0;
        Task<(PeerAttempt Attempt, PeerOffer Offer)>? next = null;
        try
        {
            while (true)
            {
                if (acceptLimit is null || introduced + 1 < acceptLimit)
                {
                    next ??= PrepareAttemptAsync(cancellationToken);
                }
                PeerAttempt waiting = listening!;
                IntroduceMessage introduction = await RendezvousCall(() => waiting.WaitForIntroductionAsync(Rendezvous, cancellationToken)).ConfigureAwait(false);
                long started = Options.TimeProvider.GetTimestamp(); // a listener's time limit runs from the introduction on
                introduced++;
                bool last = introduced == acceptLimit;
                Task punch = PunchIntoBacklogAsync(waiting, introduction, started, last, cancellationToken);
                listening = null;
                if (last)
                {
                    await punch.ConfigureAwait(false);
                    return;
                }
                lock (_gate)
                {
                    _punches.RemoveAll(t => t.IsCompleted);
                    _punches.Add(punch);
                }
                // The offer served that session: the next peer's, gathered meanwhile.
                (listening, PeerOffer offer) = await next!.ConfigureAwait(false);
                next = null;
                await Rendezvous.UpdateOfferAsync(offer, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _accepted.Writer.TryComplete();
        }
        catch (Exception e)
        {
            if (listening is not null)
            {
                await listening.DisposeAsync().ConfigureAwait(false);
            }
            Exception cause = e is ChannelClosedException { InnerException: { } inner } ? inner : e;
            _accepted.Writer.TryComplete(cause as ConnectException ?? new ConnectException(cause is RendezvousException ? cause.Message : $"listening ended: {cause.Message}", cause));
        }
        finally
        {
            // An attempt gathered for a peer that will not come is the node's (disposed with it); a failure of it is observed here.
            _ = next?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    /// <summary>A fresh socket and its offer (gathered, with its relay) for the next peer.</summary>
    private async Task<(PeerAttempt Attempt, PeerOffer Offer)> PrepareAttemptAsync(CancellationToken cancellationToken)
    {
        PeerAttempt attempt = NewAttempt();
        return (attempt, await attempt.PrepareAsync(CurrentGrant, cancellationToken).ConfigureAwait(false));
    }

    private async Task PunchIntoBacklogAsync(PeerAttempt attempt, IntroduceMessage introduction, long started, bool last, CancellationToken cancellationToken)
    {
        try
        {
            PeerConnection connection = await attempt.PunchAsync(introduction, connecting: false, started, cancellationToken).ConfigureAwait(false);
            if (!_accepted.Writer.TryWrite(connection))
            {
                Progress?.Report(new ConnectionProgress.Status($"'{introduction.Peer}' connected, but {AcceptBacklog} connections wait to be accepted: closed"));
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            if (last)
            {
                _accepted.Writer.TryComplete();
            }
        }
        catch (Exception e)
        {
            Rendezvous.EndSession(introduction.Session);
            await attempt.DisposeAsync().ConfigureAwait(false);
            if (last)
            {
                _accepted.Writer.TryComplete(e as ConnectException ?? new ConnectException(e.Message, e));
            }
            else if (!cancellationToken.IsCancellationRequested)
            {
                Progress?.Report(new ConnectionProgress.Status($"a session with '{introduction.Peer}' failed: {e.Message}"));
            }
        }
    }

    private TurnGrant? CurrentGrant
    {
        get
        {
            lock (_gate)
            {
                return _grant;
            }
        }
    }

    private SemaphoreSlim ConnectTurn(string peer)
    {
        lock (_gate)
        {
            if (!_connectsByPeer.TryGetValue(peer, out SemaphoreSlim? turn))
            {
                _connectsByPeer[peer] = turn = new SemaphoreSlim(1, 1);
            }
            return turn;
        }
    }

    private PeerAttempt NewAttempt()
    {
        var attempt = new PeerAttempt(this);
        lock (_gate)
        {
            if (_disposed)
            {
                _ = attempt.DisposeAsync().AsTask();
                throw new ObjectDisposedException(nameof(PeerNode));
            }
            _attempts.Add(attempt);
        }
        return attempt;
    }

    /// <summary><see cref="PeerOptions.LocalPort"/> for the first socket; the ones after it pick their own.</summary>
    internal int TakeLocalPort()
    {
        lock (_gate)
        {
            bool first = !_localPortTaken;
            _localPortTaken = true;
            return first ? Options.LocalPort : 0;
        }
    }

    internal void Adopt(PeerConnection connection)
    {
        lock (_gate)
        {
            _connections.Add(connection);
        }
    }

    /// <summary>An attempt or connection closed: no more fresh grants for it.</summary>
    internal void Forget(PeerAttempt attempt)
    {
        lock (_gate)
        {
            _attempts.Remove(attempt);
        }
    }

    internal void Forget(PeerConnection connection)
    {
        lock (_gate)
        {
            _connections.Remove(connection);
        }
    }

    /// <summary>Registered again: every relay of this node allocates with the fresh grant from now on.</summary>
    private void UseFreshGrant(TurnGrant? grant)
    {
        List<PeerAttempt> attempts;
        lock (_gate)
        {
            _grant = grant;
            attempts = [.. _attempts];
        }
        foreach (PeerAttempt attempt in attempts)
        {
            attempt.UseFreshGrant(grant);
        }
    }

    /// <summary>The TURN server named in the options, resolved; null when the NatPunch server's own relay is to be used.</summary>
    private static async Task<RelayServer?> ResolveTurnServerAsync(PeerOptions options, CancellationToken cancellationToken)
    {
        if (options.Relay == RelayMode.Never || options.TurnServer is not { } uri)
        {
            return null;
        }
        if (options.TurnCredentials is not { } credentials)
        {
            throw new ConnectException($"the TURN server {uri} needs credentials (PeerOptions.TurnCredentials)");
        }
        try
        {
            IPEndPoint endPoint = await uri.Server.ResolveAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            HttpProxy? proxy = options.ServerConnection.ProxyFor(uri.Server.Host);
            return new RelayServer(endPoint, credentials, Udp: uri.Transport == TurnServerTransport.Udp, Tcp: uri.Transport == TurnServerTransport.Tcp)
            {
                TcpRoute = uri.Tls || proxy is not null ? new ServerRoute(uri.Server, uri.Tls, proxy) : null,
                Connection = options.ServerConnection,
            };
        }
        catch (SocketException e)
        {
            throw new ConnectException($"cannot resolve the TURN server {uri.Server.Host}: {e.Message}", e);
        }
    }

    private static async Task<T> RendezvousCall<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RendezvousException e)
        {
            throw new ConnectException(e.Message, e);
        }
    }

    /// <summary>Stops accepting, closes every connection and attempt of this node, and leaves the rendezvous.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        _stopping.Cancel();
        await _acceptLoop.ConfigureAwait(false);
        Task[] punches;
        lock (_gate)
        {
            punches = [.. _punches];
        }
        await Task.WhenAll(punches).ConfigureAwait(false);
        _accepted.Writer.TryComplete();
        while (_accepted.Reader.TryRead(out PeerConnection? unaccepted))
        {
            await unaccepted.DisposeAsync().ConfigureAwait(false);
        }
        List<PeerConnection> connections;
        List<PeerAttempt> attempts;
        lock (_gate)
        {
            connections = [.. _connections];
            attempts = [.. _attempts];
        }
        foreach (PeerConnection connection in connections)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        foreach (PeerAttempt attempt in attempts)
        {
            await attempt.DisposeAsync().ConfigureAwait(false);
        }
        if (Rendezvous is not null)
        {
            await Rendezvous.DisposeAsync().ConfigureAwait(false);
        }
        EphemeralIdentity.Dispose();
        _stopping.Dispose();
    }
}
