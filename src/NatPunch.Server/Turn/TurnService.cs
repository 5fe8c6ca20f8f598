using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Net;
using NatPunch.Server.Internal;

namespace NatPunch.Server.Turn;

/// <summary>
/// Drives <see cref="TurnCore"/>: the server's UDP loops and TCP connections hand it TURN traffic,
/// each relay socket's receive loop hands it peers' datagrams, a timer expires what has expired.
/// </summary>
/// <remarks>
/// Concurrency: one lock, <see cref="_gate"/>, owns the core. Every input (client message, peer
/// datagram, timer tick, or on Linux a whole batch of them) takes it, lets the core run to
/// completion and sends what the core sent before releasing it (Linux: one sendmmsg per socket run,
/// see <see cref="FlushOutbox"/>). UDP sends never block (a full buffer drops); a TCP client's
/// messages go onto its non-blocking socket or into its bounded queue, never waiting here.
/// A lock rather than a loop fed through a channel: a relayed datagram costs one uncontended lock
/// and no thread hop or copy, and the core stays single-threaded and deterministic either way. The
/// stateless Binding path never takes it. If one core's worth of relaying ever becomes the limit,
/// the next step is sharding the allocation table by 5-tuple hash, one lock per shard.
/// </remarks>
public sealed class TurnService : ITurnEnvironment, IAsyncDisposable
{
    // Guards _core (and through it every allocation and relay socket table).
    private readonly Lock _gate = new();
    private readonly TurnCore _core;
    private readonly TurnOptions _options;
    private readonly TimeProvider _time;
    private readonly TurnRefusalSummary _refusals = new(TimeSpan.FromSeconds(10));
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<IPEndPoint, Socket> _udpSockets = new();
    private readonly ConcurrentDictionary<TurnClient, ITurnClientConnection> _tcpClients = new();
    private readonly ITimer _timer;
    private readonly RelayPoller? _poller;
    // How to reach each UDP client (server socket, serialised address), by reference of
    // TurnClient.Remote (the allocation keeps that object), so that a relayed datagram neither
    // serialises an address nor looks the socket up; used under _gate only, emptied when it grows
    // past SendAddressCacheLimit.
    private readonly Dictionary<IPEndPoint, UdpClientRoute> _routes = new(ReferenceEqualityComparer.Instance);
    private const int SendAddressCacheLimit = 4096;
    // Linux: UDP datagrams the core sends while _gate is held are queued here and go out with one
    // sendmmsg per socket run when the holder is done (FlushOutbox), instead of one sendmsg each.
    private readonly LinuxSendBatch? _outbox = LinuxDatagramBatch.IsSupported ? new LinuxSendBatch(OutboxCapacity, OutboxArenaSize) : null;
    private const int OutboxCapacity = 64;
    private const int OutboxArenaSize = 256 * 1024;
    private int _disposed;
    private long _nextConnection;
    // Drops after the core (under _gate): messages for TCP clients whose queue was full, UDP
    // datagrams (to peers or clients) that a non-blocking send did not take.
    private long _tcpQueueDrops;
    private long _udpSendDrops;

    /// <param name="grants">The issuer of the rendezvous' grants, whose credentials this relay then accepts.</param>
    public TurnService(TurnOptions options, TimeProvider? timeProvider = null, ILogger? logger = null, TurnGrantIssuer? grants = null)
    {
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _core = new TurnCore(options, this, new TurnAuthenticator(options, grantSecret: grants?.Secret, revoked: grants?.Revoked));
        _poller = RelayPoller.IsSupported ? new RelayPoller(this) : null;
        _timer = _time.CreateTimer(_ => Expire(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public TurnOptions Options => _options;

    /// <summary>A snapshot of the core's counters and the number of allocations.</summary>
    public (int Allocations, string Counters) Snapshot()
    {
        lock (_gate)
        {
            return (_core.AllocationCount, CountersText());
        }
    }

    /// <summary>The relay's counters and allocations now, taken under the core's lock (for metrics).</summary>
    public TurnStatistics Statistics()
    {
        lock (_gate)
        {
            TurnCounters c = _core.Counters;
            return new TurnStatistics(_core.AllocationCount, c.AllocationsCreated, c.Requests, c.Errors, c.AuthFailures, c.Malformed,
                c.ToPeers, c.ToClients, c.BytesToPeers, c.BytesToClients, c.Dropped, c.BandwidthDrops, c.QuotaRefusals, c.PermissionRefusals,
                Interlocked.Read(ref _tcpQueueDrops), Interlocked.Read(ref _udpSendDrops));
        }
    }

    private string CountersText() => $"{_core.Counters} tcp-queue-drops={_tcpQueueDrops} udp-send-drops={_udpSendDrops}";

    /// <summary>The server socket that answers clients who wrote to <paramref name="socket"/>'s address.</summary>
    internal void RegisterUdpSocket(Socket socket)
    {
        IPEndPoint local = TurnClient.Normalize((IPEndPoint)socket.LocalEndPoint!);
        _udpSockets.TryAdd(local, socket);
        lock (_gate)
        {
            _core.ProtectServiceEndPoints([local]);
        }
    }

    /// <summary>
    /// A new TCP connection from <paramref name="remote"/> to <paramref name="local"/>: its client,
    /// with a number no other connection has, so that it never shares an allocation (or a send
    /// route) with an earlier connection from the same address and port whose close has not been
    /// handled yet (RFC 8656 §3.1: over TCP the allocation is the connection's).
    /// </summary>
    internal TurnClient RegisterTcpClient(IPEndPoint remote, IPEndPoint local, ITurnClientConnection connection)
    {
        var client = TurnClient.Create(remote, local, TurnClientTransport.Tcp, Interlocked.Increment(ref _nextConnection));
        _tcpClients[client] = connection;
        return client;
    }

    /// <summary>The connection of <paramref name="client"/> is closed: its allocation goes (RFC 8656 §3.1).</summary>
    internal void OnTcpClosed(TurnClient client)
    {
        _tcpClients.TryRemove(client, out _);
        lock (_gate)
        {
            _core.OnClientDisconnected(client);
        }
    }

    /// <summary>A TURN message or ChannelData from a client.</summary>
    public void HandleFromClient(TurnClient client, ReadOnlySpan<byte> message)
    {
        lock (_gate)
        {
            try
            {
                _core.HandleFromClient(client, message, _time.GetUtcNow());
            }
            finally
            {
                FlushOutbox();
            }
        }
    }

    /// <summary>
    /// Datagrams <paramref name="indices"/> of <paramref name="batch"/>, from <paramref name="clients"/>
    /// (one UDP loop's recvmmsg): one lock and one flush of the relayed sends for all.
    /// </summary>
    internal void HandleFromClients(LinuxDatagramBatch batch, ReadOnlySpan<int> indices, ReadOnlySpan<TurnClient> clients)
    {
        lock (_gate)
        {
            try
            {
                DateTimeOffset now = _time.GetUtcNow();
                for (int k = 0; k < indices.Length; k++)
                {
                    int i = indices[k];
                    _core.HandleFromClient(clients[k], batch.Buffer(i)[..batch.Length(i)], now);
                }
            }
            finally
            {
                FlushOutbox();
            }
        }
    }

    internal void HandleFromPeer(IRelaySocket relay, IPEndPoint peer, ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            try
            {
                _core.HandleFromPeer(relay, peer, data, _time.GetUtcNow());
            }
            finally
            {
                FlushOutbox();
            }
        }
    }

    /// <summary>Back-pressure for a TCP client's reader: see <see cref="RelayPoller.WhenCaughtUpAsync"/>.</summary>
    internal Task WhenRelayCaughtUpAsync() => _poller?.WhenCaughtUpAsync() ?? Task.CompletedTask;

    /// <summary>
    /// One epoll round of the <see cref="RelayPoller"/>: one <c>recvmmsg</c> on each ready relay
    /// socket and the datagrams to the core, under one lock, then one flush of what goes to clients
    /// (mostly one <c>sendmmsg</c> on the server socket for every allocation at once).
    /// </summary>
    internal void HandleFromPeers(ReadOnlySpan<UdpRelaySocket> relays, RelayPoller poller)
    {
        lock (_gate)
        {
            try
            {
                DateTimeOffset now = _time.GetUtcNow();
                LinuxDatagramBatch batch = poller.Batch;
                foreach (UdpRelaySocket relay in relays)
                {
                    int count = poller.Receive(relay);
                    for (int i = 0; i < count; i++)
                    {
                        if (relay.PeerOf(batch, i) is { } peer)
                        {
                            _core.HandleFromPeer(relay, peer, batch.Buffer(i)[..batch.Length(i)], now);
                        }
                    }
                }
            }
            finally
            {
                FlushOutbox();
            }
        }
    }

    /// <summary>Queues a UDP datagram while the caller holds <see cref="_gate"/>; false when it must be sent at once.</summary>
    internal bool TryQueue(SafeHandle socket, ReadOnlySpan<byte> address, ReadOnlySpan<byte> data)
    {
        if (_outbox is null)
        {
            return false;
        }
        if (_outbox.TryAdd(socket, address, data))
        {
            return true;
        }
        _udpSendDrops += _outbox.Flush();
        return _outbox.TryAdd(socket, address, data);
    }

    private void FlushOutbox()
    {
        if (_outbox is { Count: > 0 })
        {
            _udpSendDrops += _outbox.Flush();
        }
    }

    internal void OnRelayFault(Exception e) => TurnLog.Fault(_logger, e);

    private void Expire()
    {
        try
        {
            string? refusals;
            lock (_gate)
            {
                DateTimeOffset now = _time.GetUtcNow();
                try
                {
                    _core.Expire(now);
                }
                finally
                {
                    FlushOutbox();
                }
                refusals = _refusals.Due(_core.Counters, now);
            }
            if (refusals is not null)
            {
                TurnLog.Refusals(_logger, refusals);
            }
        }
        catch (Exception e)
        {
            TurnLog.Fault(_logger, e);
        }
    }

    IPAddress? ITurnEnvironment.RelayAddressFor(TurnClient client, AddressFamily family)
    {
        foreach (IPAddress configured in _options.RelayAddresses)
        {
            if (configured.AddressFamily == family)
            {
                return configured;
            }
        }
        IPAddress local = client.Local.Address;
        if (local.AddressFamily == family && !local.Equals(IPAddress.Any) && !local.Equals(IPAddress.IPv6Any))
        {
            return local;
        }
        // Another listen address of the family asked for (an IPv4 client asking for an IPv6 relay).
        foreach (IPEndPoint listening in _udpSockets.Keys)
        {
            if (listening.AddressFamily == family && !listening.Address.Equals(IPAddress.Any) && !listening.Address.Equals(IPAddress.IPv6Any))
            {
                return listening.Address;
            }
        }
        if (client.Remote.AddressFamily != family)
        {
            return null;
        }
        // A wildcard listen address: this host's address toward the client (a routing lookup, nothing sent).
        try
        {
            using var probe = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(client.Remote);
            return ((IPEndPoint)probe.LocalEndPoint!).Address;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    IRelaySocket? ITurnEnvironment.TryBind(IPEndPoint endPoint)
    {
        try
        {
            return new UdpRelaySocket(endPoint, this, _poller);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    void ITurnEnvironment.SendToClient(TurnClient client, ReadOnlySpan<byte> message)
    {
        if (client.IsTcp)
        {
            if (_tcpClients.TryGetValue(client, out ITurnClientConnection? connection) && !connection.TrySend(message))
            {
                _tcpQueueDrops++;
            }
            return;
        }
        if (!_routes.TryGetValue(client.Remote, out UdpClientRoute? route) || !ReferenceEquals(route.Local, client.Local))
        {
            if (!_udpSockets.TryGetValue(client.Local, out Socket? socket))
            {
                return;
            }
            IPEndPoint to = client.Remote;
            if (socket.AddressFamily == AddressFamily.InterNetworkV6 && to.AddressFamily == AddressFamily.InterNetwork)
            {
                to = new IPEndPoint(to.Address.MapToIPv6(), to.Port);
            }
            if (_routes.Count >= SendAddressCacheLimit)
            {
                _routes.Clear();
            }
            route = new UdpClientRoute(client.Local, socket, to.Serialize());
            _routes[client.Remote] = route;
        }
        if (TryQueue(route.Handle, route.AddressBytes, message))
        {
            return;
        }
        try
        {
            route.Socket.SendTo(message, SocketFlags.None, route.Address);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>A UDP client's server socket and serialised address.</summary>
    private sealed class UdpClientRoute(IPEndPoint local, Socket socket, SocketAddress address)
    {
        public IPEndPoint Local { get; } = local;
        public Socket Socket { get; } = socket;
        public SafeHandle Handle { get; } = socket.SafeHandle;
        public SocketAddress Address { get; } = address;
        public byte[] AddressBytes { get; } = address.Buffer.Span[..address.Size].ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _timer.DisposeAsync().ConfigureAwait(false);
        lock (_gate)
        {
            TurnLog.Stopped(_logger, CountersText());
            _core.Clear();
            _outbox?.Flush();
        }
        _poller?.Dispose();
    }
}

/// <summary>A client connection the TURN service can queue messages on (TCP).</summary>
internal interface ITurnClientConnection
{
    /// <summary>Queues a copy of <paramref name="message"/>; false (dropped) when the queue is full.</summary>
    bool TrySend(ReadOnlySpan<byte> message);
}
