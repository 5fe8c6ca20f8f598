using System.Net;
using System.Security.Cryptography;
using NatPunch.Protocol.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Turn;
using NatPunch.Server.Internal;
using NatPunch.Server.Turn;

namespace NatPunch.Server.Rendezvous;

/// <summary>
/// The rendezvous service as a core without I/O: connections, messages and time go in, messages
/// to send (and connections to close) come out. It keeps the directory of registered names,
/// introduces peers to each other and times their start so both send at the same moment.
/// Not thread-safe: one loop owns it (see <c>Internal/RendezvousLoop</c>).
/// </summary>
public sealed partial class RendezvousDirectory
{
    private readonly RendezvousOptions _options;
    private readonly TurnGrantIssuer? _turnGrants;
    private readonly Dictionary<long, Client> _connections = [];
    private readonly Dictionary<string, Client> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly Queue<RendezvousOutput> _outputs = new();
    private readonly List<EndingGrants> _endingGrants = [];
    // Registrations per source (IPv4 address or IPv6 /64); full buckets are forgotten from time to time.
    private readonly RateLimitPerSource _registrations;
    private readonly RateLimitPerSource _messagesPerSource;
    private long _nextPingId;
    // Connects one client may have waiting at once: enough for a node reaching many peers, not a table to fill.
    private const int MaxConnectsPerClient = 32;

    /// <param name="turnGrants">When the server runs a TURN relay: mints the credential each <c>registered</c> carries.</param>
    public RendezvousDirectory(RendezvousOptions options, TurnGrantIssuer? turnGrants = null)
    {
        _options = options;
        _turnGrants = turnGrants;
        _registrations = new RateLimitPerSource(options.RegistrationsPerMinute / 60.0, options.RegistrationsPerMinute);
        _messagesPerSource = new RateLimitPerSource(options.MessagesPerSecondPerAddress, (int)Math.Min(int.MaxValue, options.MessagesPerSecondPerAddress * 10));
    }

    public int RegisteredCount => _byName.Count;

    /// <summary>Sessions held: introduced pairs, including those waiting for an end to resume.</summary>
    public int SessionCount => _sessions.Count;

    public bool IsRegistered(string name) => _byName.ContainsKey(name);

    public void Connected(long connectionId, IPEndPoint remote, TimeSpan now)
    {
        _connections[connectionId] = new Client(connectionId, remote, now);
    }

    public void Disconnected(long connectionId, string reason, TimeSpan now)
    {
        if (!_connections.Remove(connectionId, out Client? client))
        {
            return;
        }
        if (client.Name is not null && _byName.TryGetValue(client.Name, out Client? registered) && registered == client)
        {
            _byName.Remove(client.Name);
        }
        if (client.Grants.Count > 0)
        {
            // Its grants end with the registration, unless the same process registers again within
            // the resume window (a new connection after a network change): then they pass to it.
            _endingGrants.Add(new EndingGrants(client.Name!, client.Instance, [.. client.Grants], now + _options.ResumeWindow));
        }
        foreach (string sessionId in client.Sessions)
        {
            LeaveSession(client, sessionId, reason, now);
        }
    }

    public void Received(long connectionId, RendezvousMessage message, TimeSpan now)
    {
        if (!_connections.TryGetValue(connectionId, out Client? client))
        {
            return;
        }
        client.LastHeard = now;
        if (!client.TakeMessageToken(now, _options))
        {
            Refuse(client, ServerRefusal.RendezvousMessageRate,
                $"more than {_options.MessagesPerSecond:0} messages a second (bursts of {_options.MessageBurst}): closing", now);
            return;
        }
        if (!_messagesPerSource.TryTake(client.Remote.Address, now))
        {
            Refuse(client, ServerRefusal.RendezvousMessageRate,
                $"its address sends more than {_options.MessagesPerSecondPerAddress:0} messages a second over all its connections: closing", now);
            return;
        }
        switch (message)
        {
            case PingMessage ping:
                Send(client, new PongMessage(ping.Id));
                break;
            case PongMessage pong:
                if (client.PingSentAt.Remove(pong.Id, out TimeSpan sentAt))
                {
                    TimeSpan sample = now - sentAt;
                    // Smoothed as in RFC 6298 §2.3 (alpha = 1/8); the first sample is taken as is.
                    client.RoundTrip = client.RoundTrip is { } rtt ? rtt + (sample - rtt) / 8 : sample;
                }
                break;
            case RegisterMessage register:
                Register(client, register, now);
                break;
            case UpdateOfferMessage update when client.Name is not null:
                client.Offer = update.Offer;
                ServeWaiting(client, now);
                break;
            case ConnectMessage connect when client.Name is not null:
                Connect(client, connect, now);
                break;
            case CandidateMessage candidate when client.Name is not null:
                Forward(client, candidate.Session, candidate);
                break;
            case RestartMessage restart when client.Name is not null:
                Forward(client, restart.Session, restart);
                break;
            case SealedSignalMessage sealedSignal when client.Name is not null:
                Forward(client, sealedSignal.Session, sealedSignal);
                break;
            case ResumeMessage resume when client.Name is not null:
                Resume(client, new ResumeSession(resume.Session, resume.Peer, resume.Proof), now);
                break;
            case ResumeKeyMessage key when client.Name is not null:
                if (_sessions.TryGetValue(key.Session, out Session? keyed) && keyed.Has(client))
                {
                    keyed.SetAnchor(client, key.Anchor);
                }
                break;
            case UpdateOfferMessage or ConnectMessage or CandidateMessage or RestartMessage or ResumeMessage or ResumeKeyMessage or SealedSignalMessage:
                Send(client, new ErrorMessage(RendezvousErrorCodes.NotRegistered, "register a name first"));
                break;
            default:
                Send(client, new ErrorMessage(RendezvousErrorCodes.BadRequest, $"a client does not send '{message.GetType().Name}'"));
                break;
        }
    }

    /// <summary>Something the client sent could not be parsed: tell it and close.</summary>
    public void Malformed(long connectionId, string error)
    {
        if (_connections.TryGetValue(connectionId, out Client? client))
        {
            _outputs.Enqueue(new RendezvousOutput(client.ConnectionId, new ErrorMessage(RendezvousErrorCodes.BadRequest, error), Close: true));
        }
    }

    public TimeSpan? NextWakeUp
    {
        get
        {
            TimeSpan? next = null;
            foreach (Client client in _connections.Values)
            {
                if (client.Name is null)
                {
                    next = Earliest(next, client.ConnectedAt + _options.RegisterTimeout);
                }
                next = Earliest(next, client.LastPinged + _options.PingInterval);
                next = Earliest(next, client.LastHeard + _options.DeadAfter);
                foreach (PendingConnect waiting in client.Waiting.Values)
                {
                    next = Earliest(next, waiting.Deadline);
                }
            }
            foreach (Session session in _sessions.Values)
            {
                if (session.ResumeBy is { } resumeBy)
                {
                    next = Earliest(next, resumeBy);
                }
            }
            foreach (EndingGrants ending in _endingGrants)
            {
                next = Earliest(next, ending.At);
            }
            return next;
        }
    }

    public void HandleTimeout(TimeSpan now)
    {
        foreach (Client client in _connections.Values.ToList())
        {
            if (client.Name is null && now - client.ConnectedAt >= _options.RegisterTimeout)
            {
                Refuse(client, ServerRefusal.RendezvousRegisterTimeout, $"no name registered within {_options.RegisterTimeout.TotalSeconds:0} s: closing", now);
                continue;
            }
            if (now - client.LastHeard >= _options.DeadAfter)
            {
                _outputs.Enqueue(new RendezvousOutput(client.ConnectionId, null, Close: true));
                Disconnected(client.ConnectionId, $"no sign of life for {_options.DeadAfter.TotalSeconds:0} s", now);
                continue;
            }
            if (now - client.LastPinged >= _options.PingInterval)
            {
                Ping(client, now);
            }
            foreach (PendingConnect waiting in client.Waiting.Values.Where(w => now >= w.Deadline).ToList())
            {
                client.Waiting.Remove(waiting.Peer);
                Send(client, NotAvailable(waiting.Peer, waiting.WaitedFor));
            }
        }
        EndSessionsNotResumed(now);
        RevokeEndedGrants(now);
    }

    /// <summary>A registration by the same process (same name and instance) takes over grants whose registration is ending.</summary>
    private void AdoptEndingGrants(Client client)
    {
        if (client.Instance is null)
        {
            return;
        }
        foreach (EndingGrants ending in _endingGrants.Where(e => e.Name == client.Name && e.Instance == client.Instance).ToList())
        {
            client.Grants.AddRange(ending.Usernames);
            _endingGrants.Remove(ending);
        }
    }

    private void RevokeEndedGrants(TimeSpan now)
    {
        if (_turnGrants is null)
        {
            return;
        }
        foreach (EndingGrants ending in _endingGrants.Where(e => now >= e.At).ToList())
        {
            _endingGrants.Remove(ending);
            foreach (string username in ending.Usernames)
            {
                _turnGrants.Revoked.Revoke(username, _turnGrants.Now);
            }
        }
    }

    /// <summary>Grants of a registration that ended, revoked at <paramref name="At"/> unless the same process registers again before.</summary>
    private sealed record EndingGrants(string Name, string? Instance, List<string> Usernames, TimeSpan At);

    public bool TryPollOutput(out RendezvousOutput output) => _outputs.TryDequeue(out output);

    /// <summary>A limit closes the connection: the client is told why, the driver counts and logs it.</summary>
    private void Refuse(Client client, ServerRefusal refusal, string why, TimeSpan now)
    {
        _outputs.Enqueue(new RendezvousOutput(client.ConnectionId, new ErrorMessage(RendezvousErrorCodes.BadRequest, why), Close: true, refusal));
        Disconnected(client.ConnectionId, why, now);
    }

    private void Register(Client client, RegisterMessage register, TimeSpan now)
    {
        if (client.Name is not null)
        {
            Send(client, new ErrorMessage(RendezvousErrorCodes.BadRequest, $"already registered as '{client.Name}'"));
            return;
        }
        if (!_registrations.TryTake(client.Remote.Address, now))
        {
            // Every attempt counts, a wrong token too: this also bounds guessing the token and minting grants.
            Refuse(client, ServerRefusal.RendezvousRegisterRate,
                $"more than {_options.RegistrationsPerMinute} registrations a minute from this address: try again later", now);
            return;
        }
        if (_options.Token is { } token && !FixedTimeEquals(token, register.Token))
        {
            string why = register.Token is null ? "this server requires a token (--token)" : "wrong token";
            _outputs.Enqueue(new RendezvousOutput(client.ConnectionId, new ErrorMessage(RendezvousErrorCodes.Unauthorized, why), Close: true));
            return;
        }
        if (!IsValidName(register.Name))
        {
            Send(client, new ErrorMessage(RendezvousErrorCodes.BadRequest,
                $"'{register.Name}' is not a valid name: use 1-{_options.MaxNameLength} letters, digits, '-', '_', '.', '@'"));
            return;
        }
        if (_byName.TryGetValue(register.Name, out Client? holder))
        {
            bool sameInstance = register.Instance is not null && register.Instance == holder.Instance;
            if (!sameInstance)
            {
                Send(client, new ErrorMessage(RendezvousErrorCodes.NameTaken, $"the name '{register.Name}' is already registered"));
                return;
            }
            // The same process reconnected before we noticed its old connection die.
            _outputs.Enqueue(new RendezvousOutput(holder.ConnectionId, null, Close: true));
            Disconnected(holder.ConnectionId, "replaced by a new connection", now);
        }
        client.Name = register.Name;
        client.Instance = register.Instance;
        client.Offer = register.Offer;
        _byName[register.Name] = client;
        // Only here, past the token check: a grant is as good as the token for using the relay.
        TurnGrant? grant = _turnGrants?.Issue(register.Name);
        if (grant is not null)
        {
            client.Grants.Add(grant.Username);
            client.GrantRenewAt = now + _turnGrants!.Lifetime / 2;
        }
        AdoptEndingGrants(client);
        Send(client, new RegisteredMessage(register.Name, Format(client.Remote), grant));
        if (register.Resume is { } resume)
        {
            Resume(client, resume, now);
        }
        // Measure the round trip now, so that an introduction can be timed.
        Ping(client, now);
        ServeWaiting(client, now);
    }

    /// <summary>
    /// A connect carries its own offer: a node that also listens keeps its registered offer for the
    /// peers that connect to it. A client may wait for several peers at once, one connect each.
    /// </summary>
    private void Connect(Client client, ConnectMessage connect, TimeSpan now)
    {
        if (connect.Peer == client.Name)
        {
            Send(client, new ErrorMessage(RendezvousErrorCodes.BadRequest, "a peer cannot connect to itself", Peer: connect.Peer));
            return;
        }
        _byName.TryGetValue(connect.Peer, out Client? peer);
        if (peer is not null && peer.Waiting.Remove(client.Name!, out PendingConnect? theirs))
        {
            // Both called each other at once: the one that asked first controls.
            Introduce(peer, theirs.Offer, client, connect.Offer, now);
            return;
        }
        if (peer?.Offer is { } listening)
        {
            peer.Offer = null; // an offer serves one session; a listener sends a fresh one for the next
            Introduce(client, connect.Offer, peer, listening, now);
            return;
        }
        TimeSpan wait = TimeSpan.FromMilliseconds(Math.Clamp(connect.WaitMs, 0, (int)_options.MaxConnectWait.TotalMilliseconds));
        if (wait == TimeSpan.Zero)
        {
            Send(client, NotAvailable(connect.Peer));
            return;
        }
        if (!client.Waiting.ContainsKey(connect.Peer) && client.Waiting.Count >= MaxConnectsPerClient)
        {
            Send(client, new ErrorMessage(RendezvousErrorCodes.BadRequest, $"more than {MaxConnectsPerClient} connects under way", Peer: connect.Peer));
            return;
        }
        // A connect to the same peer again (sent again after a reconnect) replaces the earlier one.
        client.Waiting[connect.Peer] = new PendingConnect(connect.Peer, connect.Offer, now + wait, wait);
    }

    /// <summary>A client registered or refreshed its offer: serve one of those who wait for it.</summary>
    private void ServeWaiting(Client arrived, TimeSpan now)
    {
        if (arrived.Offer is not { } offer)
        {
            return;
        }
        foreach (Client waiter in _connections.Values)
        {
            if (waiter != arrived && waiter.Waiting.Remove(arrived.Name!, out PendingConnect? pending))
            {
                arrived.Offer = null;
                Introduce(waiter, pending.Offer, arrived, offer, now);
                return;
            }
        }
    }

    /// <summary>
    /// Sends each side the other's offer. Each waits so that both start at the same moment:
    /// the one nearer to the server waits the difference of the one-way delays (DCUtR's idea,
    /// timed here by the server from its own round-trip measurements).
    /// </summary>
    private void Introduce(Client controlling, PeerOffer controllingOffer, Client controlled, PeerOffer controlledOffer, TimeSpan now)
    {
        string sessionId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var session = Session.Between(sessionId, controlling, controlled);
        _sessions[sessionId] = session;
        controlling.Sessions.Add(sessionId);
        controlled.Sessions.Add(sessionId);
        TimeSpan oneWayControlling = (controlling.RoundTrip ?? TimeSpan.Zero) / 2;
        TimeSpan oneWayControlled = (controlled.RoundTrip ?? TimeSpan.Zero) / 2;
        TimeSpan latest = oneWayControlling > oneWayControlled ? oneWayControlling : oneWayControlled;
        Send(controlling, new IntroduceMessage(sessionId, controlled.Name!, IceRole.Controlling, controlledOffer,
            Format(controlled.Remote), (int)(latest - oneWayControlling).TotalMilliseconds));
        Send(controlled, new IntroduceMessage(sessionId, controlling.Name!, IceRole.Controlled, controllingOffer,
            Format(controlling.Remote), (int)(latest - oneWayControlled).TotalMilliseconds));
    }

    /// <summary>The error for a peer that can't be introduced: unknown, or registered but offering nothing.</summary>
    private ErrorMessage NotAvailable(string peer, TimeSpan? waited = null)
    {
        string within = waited is { } w ? $" within {w.TotalSeconds:0.#} s" : "";
        return _byName.ContainsKey(peer)
            ? new ErrorMessage(RendezvousErrorCodes.PeerBusy, $"'{peer}' is registered but did not accept a session{within}", Peer: peer)
            : new ErrorMessage(RendezvousErrorCodes.PeerUnknown, $"no peer named '{peer}' registered{within}", Peer: peer);
    }

    private void Forward(Client from, string sessionId, RendezvousMessage message)
    {
        if (!_sessions.TryGetValue(sessionId, out Session? session) || !session.Has(from))
        {
            Send(from, new ErrorMessage(RendezvousErrorCodes.PeerGone, "that session has ended", sessionId));
            return;
        }
        if (session.Other(from) is { } other)
        {
            Send(other, message);
        }
        else
        {
            session.Hold(message); // the peer is reconnecting: it gets this when it resumes
        }
    }

    private void Ping(Client client, TimeSpan now)
    {
        RenewGrant(client, now);
        long id = ++_nextPingId;
        client.PingSentAt[id] = now;
        client.LastPinged = now;
        // Forget pings that were never answered, so the table stays small.
        if (client.PingSentAt.Count > 8)
        {
            client.PingSentAt.Remove(client.PingSentAt.Keys.Min());
        }
        Send(client, new PingMessage(id));
    }

    /// <summary>
    /// Half way through a registration's grant, a fresh one (<see cref="GrantMessage"/>): grants are
    /// short, and a peer whose relay must be allocated again later needs one that is still valid.
    /// The expired ones are kept: allocations made with them live on until the registration ends,
    /// and then they are revoked with it (two usernames per grant lifetime of the registration).
    /// </summary>
    private void RenewGrant(Client client, TimeSpan now)
    {
        if (_turnGrants is null || client.Name is null || client.Grants.Count == 0 || now < client.GrantRenewAt)
        {
            return;
        }
        TurnGrant grant = _turnGrants.Issue(client.Name);
        client.Grants.Add(grant.Username);
        client.GrantRenewAt = now + _turnGrants.Lifetime / 2;
        Send(client, new GrantMessage(grant));
    }

    private void Send(Client client, RendezvousMessage message) =>
        _outputs.Enqueue(new RendezvousOutput(client.ConnectionId, message, Close: false));

    private bool IsValidName(string name) =>
        name.Length >= 1 && name.Length <= _options.MaxNameLength
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@');

    private static bool FixedTimeEquals(string expected, string? given) =>
        given is not null && CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(expected), System.Text.Encoding.UTF8.GetBytes(given));

    private static string Format(IPEndPoint endPoint) =>
        IPv4Mapping.Unmap(endPoint).ToString();

    private static TimeSpan? Earliest(TimeSpan? a, TimeSpan b) => a is null || b < a ? b : a;

    private sealed class Client(long connectionId, IPEndPoint remote, TimeSpan now)
    {
        public long ConnectionId { get; } = connectionId;
        public IPEndPoint Remote { get; } = remote;
        public TimeSpan ConnectedAt { get; } = now;
        public string? Name { get; set; }
        public string? Instance { get; set; }
        public PeerOffer? Offer { get; set; }
        public TimeSpan LastHeard { get; set; } = now;
        public TimeSpan LastPinged { get; set; } = now;
        public TimeSpan? RoundTrip { get; set; }
        public Dictionary<long, TimeSpan> PingSentAt { get; } = [];
        /// <summary>The connects under way, by the peer asked for.</summary>
        public Dictionary<string, PendingConnect> Waiting { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Sessions { get; } = new(StringComparer.Ordinal);
        /// <summary>The usernames of the TURN grants this registration received: they end with it.</summary>
        public List<string> Grants { get; } = [];

        /// <summary>When the next fresh grant is due (half the lifetime of the last one).</summary>
        public TimeSpan GrantRenewAt { get; set; }

        // The message rate (RendezvousOptions.MessagesPerSecond), made on the first message.
        private TokenBucket? _messages;

        public bool TakeMessageToken(TimeSpan now, RendezvousOptions options) =>
            (_messages ??= new TokenBucket(options.MessagesPerSecond, options.MessageBurst, now)).TryTake(now);
    }

    private sealed record PendingConnect(string Peer, PeerOffer Offer, TimeSpan Deadline, TimeSpan WaitedFor);
}
