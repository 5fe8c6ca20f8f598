using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NatPunch.Protocol.Net;
using NatPunch.Server.Internal;
using NatPunch.Server.Rendezvous;
using NatPunch.Server.Stun;
using NatPunch.Server.Turn;

namespace NatPunch.Server;

/// <summary>
/// The NatPunch server: STUN over UDP and TCP on every listen address (RFC 8489), with RFC 5780
/// behaviour discovery when an alternate address is configured, the rendezvous service on the
/// same TCP port (told apart by the first byte) and, unless switched off, the TURN relay, whose
/// short-lived credentials the rendezvous hands to registered peers. Start it, then dispose it to stop.
/// </summary>
public sealed class NatPunchServer : IAsyncDisposable
{
    /// <summary>
    /// UDP sockets bound to each address. On Linux, one per core (up to 4) with SO_REUSEPORT: the
    /// kernel spreads clients over them by a hash of their address and port, and each socket's
    /// receive queue is contended by fewer threads. Other systems don't balance SO_REUSEPORT: one.
    /// </summary>
    private static readonly int UdpSocketsPerAddress = OperatingSystem.IsLinux() ? Math.Clamp(Environment.ProcessorCount, 1, 4) : 1;

    /// <summary>
    /// Receive loops per UDP socket, each on its own thread: as many as there are cores per socket
    /// (one on up to 4 cores). A second loop on the same socket only competes with the first and
    /// with the clients for the cores: on 2 cores, 2 sockets with 2 loops each answered a plain
    /// closed-loop generator at 91k/s, with one loop each at 167–195k/s (docs/benchmarks.md). On a
    /// single-socket system, one per core (up to 4).
    /// </summary>
    private static readonly int UdpThreadsPerSocket = UdpSocketsPerAddress > 1
        ? Math.Max(1, Environment.ProcessorCount / UdpSocketsPerAddress)
        : Math.Clamp(Environment.ProcessorCount, 1, 4);

    private readonly NatPunchServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _loops = [];
    private readonly RendezvousLoop _rendezvous;
    private readonly TurnService? _turn;
    private int _tcpConnections;
    private readonly ConnectionsPerAddress _perAddress;
    private readonly RefusalReporter _refusals;
    private TlsCertificateSource? _certificates;
    private int _disposed;

    public NatPunchServer(NatPunchServerOptions options, ILogger<NatPunchServer>? logger = null, TimeProvider? timeProvider = null)
    {
        _options = options;
        _logger = logger ?? NullLogger<NatPunchServer>.Instance;
        _perAddress = new ConnectionsPerAddress(options.MaxTcpConnectionsPerAddress);
        _refusals = new RefusalReporter(Counters, _logger, timeProvider ?? TimeProvider.System, options.RefusalLogInterval);
        if (options.Turn.Enabled)
        {
            // One secret for both sides: the rendezvous mints grants with it, the relay checks them.
            TurnGrants = TurnGrantIssuer.ForRelay(options.Turn, timeProvider);
            _turn = new TurnService(options.Turn, timeProvider, _logger, TurnGrants);
        }
        _rendezvous = new RendezvousLoop(options.Rendezvous, timeProvider ?? TimeProvider.System, _logger, _refusals, TurnGrants);
    }

    /// <summary>The TURN relay, when enabled.</summary>
    public TurnService? Turn => _turn;

    /// <summary>Mints the relay credentials sent to registered peers; null when TURN is off.</summary>
    public TurnGrantIssuer? TurnGrants { get; }

    public ServerCounters Counters { get; } = new();

    /// <summary>TCP connections open now.</summary>
    public int OpenTcpConnections => Volatile.Read(ref _tcpConnections);

    /// <summary>The rendezvous service's connections, names and sessions, as of its loop's last turn.</summary>
    public (int Connections, int Names, int Sessions) Rendezvous => (_rendezvous.Connections, _rendezvous.RegisteredNames, _rendezvous.Sessions);

    /// <summary>The UDP endpoints actually bound (with real ports when port 0 was asked for).</summary>
    public IReadOnlyList<IPEndPoint> UdpEndPoints { get; private set; } = [];

    /// <summary>The <see cref="NatPunchServerOptions.TlsListen"/> endpoints actually bound.</summary>
    public IReadOnlyList<IPEndPoint> TlsEndPoints { get; private set; } = [];

    private TlsCertificateSource? LoadCertificate()
    {
        if (_options.TlsCertificateFile is null != _options.TlsKeyFile is null)
        {
            throw new InvalidDataException("TLS needs both a certificate file and its key file (--tls-cert and --tls-key).");
        }
        if (_options.TlsCertificateFile is null)
        {
            if (_options.TlsListen.Count > 0)
            {
                throw new InvalidDataException("--tls-listen needs a certificate: --tls-cert FILE --tls-key FILE.");
            }
            return null;
        }
        return new TlsCertificateSource(_options.TlsCertificateFile, _options.TlsKeyFile!, _logger);
    }

    /// <summary>
    /// Binds every socket; throws <see cref="SocketException"/> with a clear message if one can't be bound,
    /// <see cref="InvalidDataException"/> if the TLS certificate does not load.
    /// </summary>
    public void Start()
    {
        _certificates = LoadCertificate();
        var udpEndPoints = new List<IPEndPoint>();
        IReadOnlyList<IPEndPoint> listen = _options.EffectiveListen;
        for (int i = 0; i < listen.Count; i++)
        {
            IPEndPoint primary = listen[i];
            var addresses = new ServerAddressSet(primary, i == 0 ? _options.AlternateAddress : null);
            addresses = BindAddressSet(addresses, udpEndPoints);
            if (addresses.SupportsBehaviorDiscovery)
            {
                ServerLog.BehaviorDiscovery(_logger, addresses[0], addresses[ServerAddressSet.Other(0)]);
            }
        }
        UdpEndPoints = udpEndPoints;
        var tlsEndPoints = new List<IPEndPoint>();
        foreach (IPEndPoint endPoint in _options.TlsListen)
        {
            // A responder of its own: STUN over TLS answers from this address.
            tlsEndPoints.Add(ListenTcp(endPoint, "TLS (and TCP)", 0, bound => new StunBindingResponder(new ServerAddressSet(bound, null))));
        }
        TlsEndPoints = tlsEndPoints;
        if (_turn is not null)
        {
            TurnOptions turn = _turn.Options;
            // The grants' TTL, never a grant: its password would let anyone relay.
            string auth = turn.NoAuth ? "NO AUTHENTICATION"
                : $"{turn.Users.Count} user(s){(turn.Secret is null ? "" : " + REST secret")}"
                  + $" + grants to registered peers valid {TurnGrants!.Lifetime.TotalSeconds:0} s";
            TurnLog.Enabled(_logger, turn.Realm, auth, turn.MinPort, turn.MaxPort);
            if (!turn.NoAuth && _options.Rendezvous.Token is null)
            {
                TurnLog.OpenGrants(_logger);
            }
            if (!turn.NoAuth && turn.Secret is null)
            {
                TurnLog.EphemeralGrants(_logger);
            }
        }
        _loops.Add(_rendezvous.RunAsync(_stopping.Token));
    }

    /// <summary>
    /// Binds the UDP and TCP sockets of one address set. A port of 0 is resolved on the first
    /// bind and reused for the rest, so that port+1 pairs stay together.
    /// </summary>
    private ServerAddressSet BindAddressSet(ServerAddressSet requested, List<IPEndPoint> udpEndPoints)
    {
        ServerAddressSet addresses = requested;
        if (requested[0].Port == 0)
        {
            addresses = new ServerAddressSet(FindFreePortPair(requested), requested.SupportsBehaviorDiscovery ? requested[2].Address : null);
        }
        // udp[s][i]: the s-th socket bound to address i (several only with SO_REUSEPORT).
        var udp = new Socket[UdpSocketsPerAddress][];
        for (int s = 0; s < udp.Length; s++)
        {
            udp[s] = new Socket[addresses.Count];
        }
        var responder = new StunBindingResponder(addresses);
        for (int i = 0; i < addresses.Count; i++)
        {
            if (udp.Length > 1)
            {
                // SO_REUSEPORT would let a second server share the port silently: probe it the
                // ordinary way first, so that a port in use fails as it always did.
                Bind(addresses[i], SocketType.Dgram, ProtocolType.Udp, reusePort: false, keep: false).Dispose();
            }
            udp[0][i] = Bind(addresses[i], SocketType.Dgram, ProtocolType.Udp, reusePort: udp.Length > 1);
            for (int s = 1; s < udp.Length; s++)
            {
                udp[s][i] = Bind((IPEndPoint)udp[0][i].LocalEndPoint!, SocketType.Dgram, ProtocolType.Udp, reusePort: true);
            }
            udpEndPoints.Add((IPEndPoint)udp[0][i].LocalEndPoint!);
            _turn?.RegisterUdpSocket(udp[0][i]);
            ServerLog.Serving(_logger, "UDP", (IPEndPoint)udp[0][i].LocalEndPoint!);
        }
        for (int i = 0; i < addresses.Count; i++)
        {
            ListenTcp(addresses[i], "TCP", i, _ => responder);
        }
        CancellationToken stopping = _stopping.Token;
        for (int i = 0; i < addresses.Count; i++)
        {
            for (int s = 0; s < udp.Length; s++)
            {
                for (int thread = 0; thread < UdpThreadsPerSocket; thread++)
                {
                    Action<CancellationToken> run = LinuxDatagramBatch.IsSupported
                        ? new UdpBatchStunLoop(udp[s], i, responder, Counters, _logger, _turn).Run
                        : new UdpStunLoop(udp[s], i, responder, Counters, _logger, _turn).Run;
                    _loops.Add(DedicatedThread.Start($"STUN UDP {i}/{s}/{thread}", () => run(stopping)));
                }
            }
        }
        return addresses;
    }

    /// <summary>Binds, listens and accepts on <paramref name="endPoint"/>; returns the endpoint bound.</summary>
    /// <param name="index">The endpoint's index in the responder's address set.</param>
    /// <param name="responderFor">The STUN responder, given the endpoint bound (its port, when 0 was asked for).</param>
    private IPEndPoint ListenTcp(IPEndPoint endPoint, string transport, int index, Func<IPEndPoint, StunBindingResponder> responderFor)
    {
        Socket listener = Bind(endPoint, SocketType.Stream, ProtocolType.Tcp);
        listener.Listen(512);
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        ServerLog.Serving(_logger, transport, bound);
        _loops.Add(AcceptLoopAsync(listener, index, responderFor(bound)));
        return bound;
    }

    /// <summary>
    /// Picks a port for a set asked with port 0: one where every address of the set (port, and
    /// port+1 in RFC 5780 mode) is free for both UDP and TCP.
    /// </summary>
    private static IPEndPoint FindFreePortPair(ServerAddressSet requested)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int port;
            using (var probe = new Socket(requested[0].AddressFamily, SocketType.Dgram, ProtocolType.Udp))
            {
                probe.Bind(requested[0]);
                port = ((IPEndPoint)probe.LocalEndPoint!).Port;
            }
            if (port < 65535 && AllFree(new ServerAddressSet(new IPEndPoint(requested[0].Address, port),
                    requested.SupportsBehaviorDiscovery ? requested[2].Address : null)))
            {
                return new IPEndPoint(requested[0].Address, port);
            }
        }
        throw new SocketException((int)SocketError.AddressAlreadyInUse, "No free port (and port+1) found for the server.");
    }

    private static bool AllFree(ServerAddressSet addresses)
    {
        var probes = new List<Socket>();
        try
        {
            for (int i = 0; i < addresses.Count; i++)
            {
                foreach ((SocketType type, ProtocolType protocol) in new[] { (SocketType.Dgram, ProtocolType.Udp), (SocketType.Stream, ProtocolType.Tcp) })
                {
                    var probe = new Socket(addresses[i].AddressFamily, type, protocol);
                    probes.Add(probe);
                    probe.Bind(addresses[i]);
                }
            }
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            probes.ForEach(p => p.Dispose());
        }
    }

    private Socket Bind(IPEndPoint endPoint, SocketType type, ProtocolType protocol, bool reusePort = false, bool keep = true)
    {
        var socket = new Socket(endPoint.AddressFamily, type, protocol);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            if (type == SocketType.Stream)
            {
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            }
            else
            {
                if (reusePort)
                {
                    // Linux SOL_SOCKET, SO_REUSEPORT: the kernel spreads datagrams over the sockets by 4-tuple hash.
                    LinuxReusePort.Enable(socket);
                }
                socket.ReceiveTimeout = (int)UdpStunLoop.WakeUpInterval.TotalMilliseconds;
                socket.ReceiveBufferSize = 4 * 1024 * 1024;
                socket.SendBufferSize = 4 * 1024 * 1024;
            }
            socket.Bind(endPoint);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new SocketException((int)e.SocketErrorCode, $"Cannot bind {(protocol == ProtocolType.Udp ? "UDP" : "TCP")} {endPoint}: {e.Message}");
        }
        if (keep)
        {
            _sockets.Add(socket);
        }
        return socket;
    }

    private async Task AcceptLoopAsync(Socket listener, int index, StunBindingResponder responder)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            if (Interlocked.Increment(ref _tcpConnections) > _options.MaxTcpConnections)
            {
                Interlocked.Decrement(ref _tcpConnections);
                Counters.CountTcpRejected();
                ServerLog.TcpLimit(_logger, _options.MaxTcpConnections, client.RemoteEndPoint);
                client.Dispose();
                continue;
            }
            if (client.RemoteEndPoint is not IPEndPoint remote || !_perAddress.TryAdd(remote.Address, out UInt128 source))
            {
                Interlocked.Decrement(ref _tcpConnections);
                _refusals.Refused(ServerRefusal.TcpConnectionsPerAddress, client.RemoteEndPoint,
                    $"{_options.MaxTcpConnectionsPerAddress} TCP connections from this source (an IPv4 address or an IPv6 /64) are open already");
                client.Dispose();
                continue;
            }
            Counters.CountTcpConnection();
            client.NoDelay = true;
            var dispatcher = new TcpConnectionDispatcher(responder, index, _rendezvous, Counters, _refusals, _logger, _options, _turn, _certificates);
            _ = Task.Run(async () =>
            {
                try
                {
                    await dispatcher.RunAsync(client, _stopping.Token).ConfigureAwait(false);
                }
                finally
                {
                    _perAddress.Remove(source);
                    Interlocked.Decrement(ref _tcpConnections);
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        if (_turn is not null)
        {
            await _turn.DisposeAsync().ConfigureAwait(false);
        }
        ServerLog.Stopped(_logger, Counters);
        _stopping.Dispose();
    }
}
