using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Net;

namespace NatPunch.Rendezvous;

/// <summary>
/// A peer's connection to the rendezvous service: registers a name, asks to be introduced to
/// another peer or waits to be introduced, relays session messages, and keeps itself alive —
/// it pings the server, notices a dead connection within <see cref="RendezvousClientOptions.DeadAfter"/>,
/// reconnects with back-off and registers again (with the same instance id) after a server restart.
/// <para>
/// One client serves a whole node: it may be in any number of sessions and have several connects
/// under way, one per peer. A session begins with its introduction: from then on its messages
/// (candidates, restarts, peer-gone, errors) go to that session's own queue (<see cref="SessionMessages"/>),
/// and every later registration asks to resume it (<see cref="RegisterMessage.Resume"/> for the first,
/// <see cref="ResumeMessage"/> for the rest), so that a restarted server relays its messages again, until
/// its owner ends it (<see cref="EndSession"/>). Session messages sent while it is reconnecting are kept
/// and sent once it is registered again.
/// </para>
/// </summary>
public sealed class RendezvousClient : IAsyncDisposable, ISignalingChannel
{
    // Candidates and restart offers of one session while the server is away: a few at most.
    private const int MaxUnsentSessionMessages = 16;

    private readonly RendezvousClientOptions _options;
    private readonly string _instance = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    private readonly CancellationTokenSource _stopping = new();
    // Bounded, as everything the server can fill: introductions nobody takes (an owner that stopped
    // accepting) and session messages nobody reads are dropped beyond these.
    private const int MaxWaitingIntroductions = 256;
    private const int MaxWaitingSessionMessages = 1024;
    private readonly Channel<IntroduceMessage> _introductions;
    private readonly SemaphoreSlim _sendLock = new(1, 1); // guards writes to _connection
    private readonly object _gate = new(); // guards the fields below
    private ServerStream? _connection;
    private ServerRoutePicker? _routes;
    private PeerOffer? _offer;
    private readonly Dictionary<string, PendingConnect> _pendingConnects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SessionInbox> _sessions = new(StringComparer.Ordinal);
    private RendezvousException? _failure;
    private readonly List<RendezvousMessage> _unsentSessionMessages = [];
    private TaskCompletionSource<RegisteredMessage>? _firstRegistration;
    private Task? _loop;
    private long _lastHeardTicks;
    private long _nextPingId;
    private long _pingSentTicks;
    private long _roundTripTicks = -1;
    private int _disposed;
    // Touched only by the read loop: work to do once the frames of one read are handled.
    private Action? _afterBatch;

    public RendezvousClient(RendezvousClientOptions options)
    {
        _options = options;
        _introductions = Channel.CreateBounded<IntroduceMessage>(new BoundedChannelOptions(MaxWaitingIntroductions)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
        }, introduction => EndSession(introduction.Session)); // its peer's attempt times out: there is nobody to meet it
    }

    /// <summary>Progress in words ("connected to …", "connection lost: …; reconnecting") for the CLI.</summary>
    public event Action<string>? StatusChanged;

    /// <summary>
    /// Raised, on the read loop, for each registration after the first (a reconnect, a server restart):
    /// it may carry a fresh TURN grant (a restarted server has a new secret, the old grant is worthless).
    /// </summary>
    public event Action<RegisteredMessage>? RegisteredAgain;

    /// <summary>
    /// Raised, on the read loop, when the server sends a fresh relay credential (<see cref="GrantMessage"/>,
    /// half way through the last one's life): new allocations need it.
    /// </summary>
    public event Action<TurnGrant>? GrantRenewed;

    /// <summary>The last measured round-trip time to the server.</summary>
    public TimeSpan? RoundTrip => Interlocked.Read(ref _roundTripTicks) is var t and >= 0 ? TimeSpan.FromTicks(t) : null;

    /// <summary>The way the connection to the server took (TLS, port, proxy), once connected: the relay's TCP takes it too.</summary>
    internal ServerRoute? Route => _routes?.Working;

    /// <summary>Our address as the server saw it on the last registration.</summary>
    public string? Observed { get; private set; }

    /// <summary>
    /// Candidate, restart, peer-gone and error messages for <paramref name="session"/>, from its
    /// introduction on. Completes when the client fails for good or the session is ended.
    /// </summary>
    public ChannelReader<RendezvousMessage> SessionMessages(string session)
    {
        lock (_gate)
        {
            if (_sessions.TryGetValue(session, out SessionInbox? inbox))
            {
                return inbox.Messages.Reader;
            }
        }
        var ended = Channel.CreateUnbounded<RendezvousMessage>();
        ended.Writer.TryComplete(_failure);
        return ended.Reader;
    }

    /// <summary>
    /// The session has keys: from now on only this end can resume it. <paramref name="seed"/> (secret,
    /// derived from the session keys) makes our <see cref="ResumeChain"/>; its anchor goes to the server,
    /// and every later resume reveals the next link of it.
    /// </summary>
    public async Task ProtectResumeAsync(string session, byte[] seed, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(session, out SessionInbox? inbox) || inbox.ResumeSeed is not null)
            {
                return;
            }
            inbox.ResumeSeed = seed;
        }
        await SendSessionMessageAsync(new ResumeKeyMessage(session, ResumeChain.Link(seed, ResumeChain.Length)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The owner is done with <paramref name="session"/>: no more resuming it, its messages are dropped.</summary>
    public void EndSession(string session)
    {
        SessionInbox? inbox;
        lock (_gate)
        {
            _sessions.Remove(session, out inbox);
        }
        inbox?.Messages.Writer.TryComplete();
    }

    /// <summary>
    /// Connects and registers. Returns once registered; throws <see cref="RendezvousException"/>
    /// when the server refuses (wrong token, name taken) or can't be reached within the connect timeout.
    /// </summary>
    public async Task<RegisteredMessage> StartAsync(PeerOffer? offer, CancellationToken cancellationToken)
    {
        var registered = new TaskCompletionSource<RegisteredMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_loop is not null)
            {
                throw new InvalidOperationException("The client is already started.");
            }
            _offer = offer;
            _firstRegistration = registered;
        }
        _loop = RunAsync(_stopping.Token);
        using CancellationTokenRegistration _ = cancellationToken.Register(() => registered.TrySetCanceled(cancellationToken));
        return await registered.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Asks the server to introduce us to <paramref name="peer"/>, which may register up to
    /// <paramref name="wait"/> later. Survives a reconnect in between (the request is sent again).
    /// </summary>
    public async Task<IntroduceMessage> ConnectToPeerAsync(string peer, PeerOffer offer, TimeSpan wait, CancellationToken cancellationToken)
    {
        TimeProvider time = _options.TimeProvider;
        var pending = new PendingConnect(peer, offer, time.GetTimestamp(), wait);
        lock (_gate)
        {
            if (_failure is { } failure)
            {
                throw failure;
            }
            if (!_pendingConnects.TryAdd(peer, pending))
            {
                throw new InvalidOperationException($"A connect to '{peer}' is already under way.");
            }
        }
        try
        {
            await SendConnectAsync(pending, cancellationToken).ConfigureAwait(false);
            // The server answers by the end of the wait; allow it a little more before we call it a timeout.
            using var due = new CancellationTokenSource(wait + _options.DeadAfter, time);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, due.Token);
            try
            {
                return await pending.Result.Task.WaitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new RendezvousException(RendezvousException.Timeout,
                    $"no introduction to '{peer}' within {(wait + _options.DeadAfter).TotalSeconds:0} s (rendezvous server slow or unreachable)");
            }
        }
        finally
        {
            lock (_gate)
            {
                if (_pendingConnects.TryGetValue(peer, out PendingConnect? current) && current == pending)
                {
                    _pendingConnects.Remove(peer);
                }
            }
        }
    }

    /// <summary>Waits until another peer connects to us through the server.</summary>
    public async Task<IntroduceMessage> WaitForIntroductionAsync(CancellationToken cancellationToken) =>
        await _introductions.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Replaces the registered offer (kept across reconnects).</summary>
    public async Task UpdateOfferAsync(PeerOffer offer, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _offer = offer;
        }
        await SendAsync(new UpdateOfferMessage(offer), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a candidate or restart message for a session. While the server is unreachable it is kept
    /// (the newest <see cref="MaxUnsentSessionMessages"/>, no duplicates) and sent after the next registration.
    /// </summary>
    public async Task SendSessionMessageAsync(RendezvousMessage message, CancellationToken cancellationToken)
    {
        if (await SendAsync(message, cancellationToken).ConfigureAwait(false))
        {
            return;
        }
        lock (_gate)
        {
            _unsentSessionMessages.Remove(message);
            _unsentSessionMessages.Add(message);
            if (_unsentSessionMessages.Count > MaxUnsentSessionMessages)
            {
                _unsentSessionMessages.RemoveAt(0);
            }
        }
    }

    private async Task SendConnectAsync(PendingConnect pending, CancellationToken cancellationToken)
    {
        TimeSpan left = pending.Wait - _options.TimeProvider.GetElapsedTime(pending.StartedAt);
        int waitMs = (int)Math.Max(0, left.TotalMilliseconds);
        await SendAsync(new ConnectMessage(pending.Peer, waitMs, pending.Offer), cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> SendAsync(RendezvousMessage message, CancellationToken cancellationToken)
    {
        ServerStream? connection;
        lock (_gate)
        {
            connection = _connection;
        }
        if (connection is null)
        {
            return false; // sent again after the reconnect where that matters (register, connect, session messages)
        }
        return await SendOnAsync(connection, message, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> SendOnAsync(ServerStream connection, RendezvousMessage message, CancellationToken cancellationToken)
    {
        byte[] frame = RendezvousCodec.Encode(message);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await connection.Stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        TimeSpan delay = TimeSpan.FromMilliseconds(250);
        long started = _options.TimeProvider.GetTimestamp();
        bool everRegistered = false;
        string lastError = "no attempt yet";
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RunConnectionAsync(() => { everRegistered = true; delay = TimeSpan.FromMilliseconds(250); }, cancellationToken).ConfigureAwait(false);
                lastError = "the server closed the connection";
            }
            catch (RendezvousException refused)
            {
                Fail(refused);
                return;
            }
            catch (ServerConnectionException e) when (!everRegistered && e.Failure is ServerConnectionFailure.CertificateRejected
                or ServerConnectionFailure.ProxyAuthenticationRequired or ServerConnectionFailure.NoTls)
            {
                // Trying again would get the same answer: say it now.
                Fail(new RendezvousException(RendezvousException.Unreachable, $"cannot reach the rendezvous server {_options.Server}: {e.Message}"));
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                lastError = e is OperationCanceledException ? "connection attempt timed out" : e.Message;
            }
            lock (_gate)
            {
                _connection = null;
            }
            if (!everRegistered && _options.TimeProvider.GetElapsedTime(started) >= _options.ConnectTimeout)
            {
                Fail(new RendezvousException(RendezvousException.Unreachable, $"cannot reach the rendezvous server {_options.Server}: {lastError}"));
                return;
            }
            StatusChanged?.Invoke(everRegistered
                ? $"connection to the rendezvous server lost ({lastError}); reconnecting"
                : $"rendezvous server {_options.Server} not reachable yet ({lastError}); retrying");
            try
            {
                await Task.Delay(delay, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        }
    }

    /// <summary>One connection's life: connect, register, then read until it breaks.</summary>
    private async Task RunConnectionAsync(Action onRegistered, CancellationToken cancellationToken)
    {
        if (_routes is null)
        {
            if (!ServerAddress.TryParse(_options.Server, out ServerAddress server, out string parseError))
            {
                throw new RendezvousException(RendezvousException.Unreachable, parseError);
            }
            _routes = new ServerRoutePicker(server, _options.Connection, message => StatusChanged?.Invoke(message));
        }
        await using ServerStream connection = await _routes.ConnectAsync(_options.ConnectTimeout, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        PeerOffer? offer;
        List<ResumeSession> sessions;
        lock (_gate)
        {
            offer = _offer;
            sessions = _sessions.Select(s => new ResumeSession(s.Key, s.Value.Peer, s.Value.NextProof())).ToList();
        }
        Interlocked.Exchange(ref _lastHeardTicks, _options.TimeProvider.GetTimestamp());
        // Register first, then let others send: a session message ahead of it would be refused (not registered).
        await SendOnAsync(connection, new RegisterMessage(_options.Name, _options.Token, offer, _instance, "natpunch", sessions.FirstOrDefault()), cancellationToken).ConfigureAwait(false);
        foreach (ResumeSession more in sessions.Skip(1))
        {
            await SendOnAsync(connection, new ResumeMessage(more.Session, more.Peer, more.Proof), cancellationToken).ConfigureAwait(false);
        }
        lock (_gate)
        {
            _connection = connection;
        }

        using var connectionEnded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task pinger = PingLoopAsync(connection.Socket, connectionEnded.Token);
        try
        {
            await ReadLoopAsync(connection.Stream, onRegistered, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            connectionEnded.Cancel();
            await pinger.ConfigureAwait(false);
        }
    }

    private async Task ReadLoopAsync(Stream stream, Action onRegistered, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[RendezvousFrame.HeaderLength + RendezvousFrame.MaxPayloadLength];
        int filled = 0;
        while (true)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }
            filled += read;
            Interlocked.Exchange(ref _lastHeardTicks, _options.TimeProvider.GetTimestamp());
            int consumed = 0;
            while (true)
            {
                RendezvousFrame.Status status = RendezvousFrame.TryRead(buffer.AsSpan(consumed, filled - consumed), out ReadOnlySpan<byte> payload, out int length);
                if (status == RendezvousFrame.Status.Invalid)
                {
                    throw new IOException("the server sent something that is not a rendezvous frame");
                }
                if (status == RendezvousFrame.Status.Incomplete)
                {
                    break;
                }
                bool ok = RendezvousCodec.TryDecode(payload, out RendezvousMessage message, out _);
                consumed += length;
                if (ok)
                {
                    await HandleAsync(message, onRegistered, cancellationToken).ConfigureAwait(false);
                }
            }
            Action? afterBatch = _afterBatch;
            _afterBatch = null;
            afterBatch?.Invoke();
            buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
            filled -= consumed;
        }
    }

    private async Task HandleAsync(RendezvousMessage message, Action onRegistered, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case RegisteredMessage registered:
                bool again = Observed is not null;
                Observed = registered.Observed;
                onRegistered();
                if (again)
                {
                    StatusChanged?.Invoke($"registered again as '{registered.Name}' with {_options.Server} (seen as {registered.Observed})");
                    RegisteredAgain?.Invoke(registered);
                }
                TaskCompletionSource<RegisteredMessage>? first;
                List<PendingConnect> pending;
                List<RendezvousMessage> unsent;
                lock (_gate)
                {
                    first = _firstRegistration;
                    _firstRegistration = null;
                    pending = [.. _pendingConnects.Values];
                    unsent = [.. _unsentSessionMessages];
                    _unsentSessionMessages.Clear();
                }
                foreach (RendezvousMessage kept in unsent)
                {
                    await SendSessionMessageAsync(kept, cancellationToken).ConfigureAwait(false);
                }
                // The server pings right after "registered". Answer that ping before our caller can
                // send a connect, so the server knows our round-trip time when it times the introduction.
                _afterBatch = () => first?.TrySetResult(registered);
                foreach (PendingConnect connect in pending)
                {
                    await SendConnectAsync(connect, cancellationToken).ConfigureAwait(false);
                }
                break;
            case GrantMessage fresh:
                GrantRenewed?.Invoke(fresh.Turn);
                break;
            case PingMessage ping:
                await SendAsync(new PongMessage(ping.Id), cancellationToken).ConfigureAwait(false);
                break;
            case PongMessage pong when pong.Id == Interlocked.Read(ref _nextPingId):
                Interlocked.Exchange(ref _roundTripTicks, _options.TimeProvider.GetElapsedTime(Interlocked.Read(ref _pingSentTicks)).Ticks);
                break;
            case IntroduceMessage introduce:
                PendingConnect? waiting;
                lock (_gate)
                {
                    // The session's queue exists before anyone hears of it, so no trickled candidate is missed.
                    _sessions.TryAdd(introduce.Session, new SessionInbox(introduce.Peer));
                    _pendingConnects.TryGetValue(introduce.Peer, out waiting);
                }
                if (waiting is null || !waiting.Result.TrySetResult(introduce))
                {
                    lock (_gate)
                    {
                        // The server used our registered offer for this session and forgot it: so do we,
                        // or a reconnect would register it again for a socket that now serves this session.
                        _offer = null;
                    }
                    _introductions.Writer.TryWrite(introduce);
                }
                break;
            case ErrorMessage error when error.Code is RendezvousErrorCodes.Unauthorized or RendezvousErrorCodes.NameTaken:
                throw new RendezvousException(error.Code, error.Message);
            case ErrorMessage error when error.Session is null:
                List<PendingConnect> failed;
                lock (_gate)
                {
                    // A server that does not name the peer had one connect at a time: fail them all.
                    failed = error.Peer is null ? [.. _pendingConnects.Values]
                        : _pendingConnects.TryGetValue(error.Peer, out PendingConnect? one) ? [one] : [];
                }
                foreach (PendingConnect connect in failed)
                {
                    connect.Result.TrySetException(new RendezvousException(error.Code, error.Message));
                }
                break;
            case PeerGoneMessage gone:
                SessionInbox? over;
                lock (_gate)
                {
                    _sessions.Remove(gone.Session, out over); // nothing to resume any more
                }
                over?.Messages.Writer.TryWrite(message);
                over?.Messages.Writer.TryComplete();
                break;
            case CandidateMessage { Session: var session }:
                DeliverToSession(session, message);
                break;
            case RestartMessage { Session: var session }:
                DeliverToSession(session, message);
                break;
            case SealedSignalMessage { Session: var session }:
                DeliverToSession(session, message);
                break;
            case ErrorMessage { Session: { } session }:
                DeliverToSession(session, message);
                break;
        }
    }

    /// <summary>A message for a session we are not in (ended, or never ours) is dropped.</summary>
    private void DeliverToSession(string session, RendezvousMessage message)
    {
        SessionInbox? inbox;
        lock (_gate)
        {
            _sessions.TryGetValue(session, out inbox);
        }
        inbox?.Messages.Writer.TryWrite(message);
    }

    private async Task PingLoopAsync(Socket socket, CancellationToken cancellationToken)
    {
        TimeProvider time = _options.TimeProvider;
        try
        {
            while (true)
            {
                await Task.Delay(_options.PingInterval, time, cancellationToken).ConfigureAwait(false);
                if (time.GetElapsedTime(Interlocked.Read(ref _lastHeardTicks)) >= _options.DeadAfter)
                {
                    // Closing the socket ends the read loop, which starts a reconnect.
                    socket.Dispose();
                    return;
                }
                long id = Interlocked.Increment(ref _nextPingId);
                Interlocked.Exchange(ref _pingSentTicks, time.GetTimestamp());
                await SendAsync(new PingMessage(id), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Fail(RendezvousException error)
    {
        TaskCompletionSource<RegisteredMessage>? first;
        List<PendingConnect> pending;
        List<SessionInbox> sessions;
        lock (_gate)
        {
            _failure ??= error;
            first = _firstRegistration;
            _firstRegistration = null;
            pending = [.. _pendingConnects.Values];
            sessions = [.. _sessions.Values];
        }
        first?.TrySetException(error);
        foreach (PendingConnect connect in pending)
        {
            connect.Result.TrySetException(error);
        }
        _introductions.Writer.TryComplete(error);
        foreach (SessionInbox inbox in sessions)
        {
            inbox.Messages.Writer.TryComplete(error);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        ServerStream? connection;
        lock (_gate)
        {
            connection = _connection;
        }
        connection?.Socket.Dispose();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        Fail(new RendezvousException(RendezvousException.Unreachable, "the rendezvous client was closed"));
        _stopping.Dispose();
    }

    /// <summary>One session's messages, in order, for its owner; <paramref name="Peer"/> and the resume chain are for resuming it.</summary>
    private sealed record SessionInbox(string Peer)
    {
        public Channel<RendezvousMessage> Messages { get; } = Channel.CreateBounded<RendezvousMessage>(
            new BoundedChannelOptions(MaxWaitingSessionMessages) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });

        /// <summary>The seed of our <see cref="ResumeChain"/> once the session has keys; guarded by the client's gate.</summary>
        public byte[]? ResumeSeed { get; set; }

        /// <summary>The chain link the last resume revealed (counting down from <see cref="ResumeChain.Length"/>).</summary>
        public int ResumeLink { get; set; } = ResumeChain.Length;

        /// <summary>The next link to reveal, never the same twice; null before there are keys or once the chain is used up.</summary>
        public string? NextProof()
        {
            if (ResumeSeed is null || ResumeLink <= 1)
            {
                return null;
            }
            ResumeLink--;
            return ResumeChain.Link(ResumeSeed, ResumeLink);
        }
    }

    private sealed record PendingConnect(string Peer, PeerOffer Offer, long StartedAt, TimeSpan Wait)
    {
        public TaskCompletionSource<IntroduceMessage> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
