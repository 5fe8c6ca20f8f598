using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Net;
using NatPunch.Stun;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// The TCP side of a link (docs/tcp-punching.md): one TCP port, on which it listens and from which
/// every connection it makes leaves (SO_REUSEADDR and SO_REUSEPORT, so a listener and connecting
/// sockets share it), so that a NAT shows the peer the same public port the STUN server saw.
/// <list type="bullet">
/// <item><see cref="GatherAsync"/>: a Binding request over TCP from that port to the STUN server gives the public address.</item>
/// <item><see cref="Punch"/>: from the introduction's moment, connects to each of the peer's TCP candidates
/// (the kernel retransmits the SYN; a refusal is tried again); the peer does the same, so each side's
/// SYN opens its own NAT for the other's (simultaneous open), or one side's listener accepts the other's connection.</item>
/// </list>
/// Each connection that opens, either way, goes to the handler. Connections from addresses that are
/// not the peer's are refused. Linux only: elsewhere SO_REUSEPORT does not let a listener and a
/// connecting socket share a port the same way, and no TCP candidate is offered.
/// </summary>
internal sealed class TcpPunch : IAsyncDisposable
{
    /// <summary>After a connect that failed at once (refused: nothing listened yet), how long until the next.</summary>
    public static readonly TimeSpan RetryAfterRefusal = TimeSpan.FromMilliseconds(250);

    private const int MaxConnections = 8;

    private readonly Socket _listener;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<IPEndPoint, TcpPeerConnection> _connections = new();
    private readonly ConcurrentDictionary<IPEndPoint, byte> _punching = new();
    // Accepted before the peer's addresses were known (its SYN beat our reading of its offer): claimed by the next Punch.
    private readonly List<(Socket Socket, long At)> _unclaimed = [];
    // The peer's addresses (from its candidates): only connections from these are taken.
    private volatile IPAddress[] _peerAddresses = [];
    private readonly Action<TcpPeerConnection> _opened;
    private readonly TcpPeerConnection.FrameHandler _onFrame;
    private readonly Action<TcpPeerConnection, string> _onClosed;
    private readonly Task _acceptLoop;
    private long _refused;

    private TcpPunch(Socket listener, TimeProvider time, Action<TcpPeerConnection> opened, TcpPeerConnection.FrameHandler onFrame,
        Action<TcpPeerConnection, string> onClosed)
    {
        _listener = listener;
        _time = time;
        _opened = opened;
        _onFrame = onFrame;
        _onClosed = onClosed;
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The TCP port every connection uses.</summary>
    public int Port { get; }

    /// <summary>Connections refused: from an address that is not the peer's, or beyond the limit.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Listens on TCP port <paramref name="preferredPort"/> (the UDP socket's number, if free; else any)
    /// of <paramref name="family"/>'s wildcard address; null where TCP punching is not supported or nothing can be bound.
    /// </summary>
    public static TcpPunch? TryStart(AddressFamily family, int preferredPort, TimeProvider time, Action<TcpPeerConnection> opened,
        TcpPeerConnection.FrameHandler onFrame, Action<TcpPeerConnection, string> onClosed)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        foreach (int port in new[] { preferredPort, 0 })
        {
            Socket listener = NewSocket(family);
            try
            {
                listener.Bind(new IPEndPoint(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, port));
                listener.Listen(MaxConnections);
                return new TcpPunch(listener, time, opened, onFrame, onClosed);
            }
            catch (SocketException)
            {
                listener.Dispose();
            }
        }
        return null;
    }

    private static Socket NewSocket(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        if (family == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = true;
        }
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        LinuxReusePort.Enable(socket);
        return socket;
    }

    /// <summary>A socket bound to the port, for a connection of our own.</summary>
    private Socket BoundSocket()
    {
        Socket socket = NewSocket(_listener.AddressFamily);
        socket.Bind(new IPEndPoint(_listener.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, Port));
        return socket;
    }

    /// <summary>Our port's public address as <paramref name="stunServer"/> sees it over TCP; null if it does not answer within <paramref name="timeout"/>.</summary>
    public async Task<IPEndPoint?> GatherAsync(IPEndPoint stunServer, TimeSpan timeout)
    {
        try
        {
            using Socket socket = BoundSocket();
            StunResponse response = await StunClient.SendTcpAsync(new StunRequest(stunServer), socket,
                StunRetransmissionOptions.Default with { ReliableTimeout = timeout }, _time, _stopping.Token).ConfigureAwait(false);
            return response.MappedAddress is { } mapped ? Candidate.Normalize(mapped) : null;
        }
        catch (Exception e) when (e is SocketException or IOException or StunTransactionTimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>The open connection with <paramref name="remote"/>, if any.</summary>
    public TcpPeerConnection? Find(IPEndPoint remote) =>
        _connections.TryGetValue(Candidate.Normalize(remote), out TcpPeerConnection? connection) && !connection.IsClosed ? connection : null;

    /// <summary>
    /// Connects to each of <paramref name="remotes"/> after <paramref name="delay"/>, again after a refusal,
    /// until a connection with it is open (ours, or the peer's accepted) or <paramref name="giveUpAfter"/> has passed.
    /// The peer's addresses become the ones whose connections the listener takes.
    /// </summary>
    public void Punch(IReadOnlyList<IPEndPoint> remotes, TimeSpan delay, TimeSpan giveUpAfter)
    {
        ClaimAccepted(remotes.Select(r => Candidate.Normalize(r).Address));
        foreach (IPEndPoint remote in remotes.Select(Candidate.Normalize))
        {
            if (_punching.TryAdd(remote, 0))
            {
                _ = PunchAsync(remote, delay, giveUpAfter);
            }
        }
    }

    private async Task PunchAsync(IPEndPoint remote, TimeSpan delay, TimeSpan giveUpAfter)
    {
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _time, _stopping.Token).ConfigureAwait(false);
            }
            // One connect at a time, left to the kernel's own SYN retransmissions (1 s, 3 s, ...): cutting
            // one short and connecting again with a new sequence number races the peer's answer to the
            // old one, whose half-open state then holds the port pair (EADDRNOTAVAIL) for seconds.
            using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            giveUp.CancelAfter(giveUpAfter);
            while (Find(remote) is null && !giveUp.IsCancellationRequested)
            {
                Socket socket = BoundSocket();
                try
                {
                    await socket.ConnectAsync(remote, giveUp.Token).ConfigureAwait(false);
                    Take(socket);
                    return;
                }
                catch (SocketException)
                {
                    // Refused, or the port pair is taken: by the same connection accepted meanwhile (then done), or by a half-open one.
                    socket.Dispose();
                    await Task.Delay(RetryAfterRefusal, _time, giveUp.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    socket.Dispose();
                    throw;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _punching.TryRemove(remote, out _);
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            if (RemoteAddress(accepted) is not { } from)
            {
                accepted.Dispose(); // reset before we looked at it
                continue;
            }
            if (Admits(from, accepted))
            {
                Take(accepted);
            }
        }
    }

    /// <summary>
    /// Keeps a connection accepted before the peer's addresses are known, until a punch names them (at
    /// most <see cref="MaxConnections"/>, for <see cref="UnclaimedFor"/>): the peer's SYN may arrive
    /// before we have read its offer.
    /// </summary>
    /// <returns>Whether to take it now; otherwise it was kept for a later punch or refused.</returns>
    private bool Admits(IPAddress from, Socket accepted)
    {
        lock (_unclaimed) // one decision against the peer's addresses as ClaimAccepted leaves them
        {
            if (_peerAddresses.Contains(from))
            {
                return true;
            }
            DropStaleUnclaimedLocked();
            if (_peerAddresses.Length == 0 && _unclaimed.Count < MaxConnections)
            {
                _unclaimed.Add((accepted, _time.GetTimestamp()));
                return false;
            }
            Interlocked.Increment(ref _refused);
            accepted.Close(0);
            return false;
        }
    }

    private static IPAddress? RemoteAddress(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint is IPEndPoint remote ? Candidate.Normalize(remote).Address : null;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>How long an accepted connection may wait for a punch to name its address.</summary>
    public static readonly TimeSpan UnclaimedFor = TimeSpan.FromSeconds(10);

    private void DropStaleUnclaimedLocked()
    {
        foreach ((Socket socket, long at) in _unclaimed.Where(u => _time.GetElapsedTime(u.At) > UnclaimedFor).ToList())
        {
            Interlocked.Increment(ref _refused);
            socket.Close(0);
            _unclaimed.Remove((socket, at));
        }
    }

    /// <summary>The peer's addresses are known (more of them): its connections accepted meanwhile are taken, the others refused.</summary>
    private void ClaimAccepted(IEnumerable<IPAddress> peerAddresses)
    {
        List<Socket> claimed = [];
        lock (_unclaimed)
        {
            _peerAddresses = _peerAddresses.Union(peerAddresses).ToArray();
            DropStaleUnclaimedLocked();
            var peers = _peerAddresses.ToHashSet();
            foreach ((Socket socket, _) in _unclaimed)
            {
                if (RemoteAddress(socket) is { } from && peers.Contains(from))
                {
                    claimed.Add(socket);
                }
                else
                {
                    Interlocked.Increment(ref _refused);
                    socket.Close(0);
                }
            }
            _unclaimed.Clear();
        }
        foreach (Socket socket in claimed)
        {
            Take(socket);
        }
    }

    /// <summary>
    /// A connection opened (ours or accepted): kept unless one with that remote is open already or there
    /// are too many. Reported before its reader starts, so that its frames and its end come after.
    /// </summary>
    private void Take(Socket socket)
    {
        TcpPeerConnection connection;
        try
        {
            connection = new TcpPeerConnection(socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            socket.Dispose(); // reset before we got to it
            return;
        }
        lock (_connections)
        {
            if (_connections.Count(c => !c.Value.IsClosed) >= MaxConnections || Find(connection.Remote) is not null)
            {
                Interlocked.Increment(ref _refused);
                connection.Close();
                return;
            }
            _connections[connection.Remote] = connection;
        }
        _opened(connection);
        connection.StartReading(_onFrame, (closed, reason) =>
        {
            _connections.TryRemove(new KeyValuePair<IPEndPoint, TcpPeerConnection>(closed.Remote, closed));
            _onClosed(closed, reason);
        });
    }

    /// <summary>Closes every connection except <paramref name="keep"/> (the data path's, if it is one of ours).</summary>
    public void CloseAllBut(TcpPeerConnection? keep)
    {
        foreach (TcpPeerConnection connection in _connections.Values)
        {
            if (connection != keep)
            {
                connection.Close();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        lock (_unclaimed)
        {
            _unclaimed.ForEach(u => u.Socket.Dispose());
            _unclaimed.Clear();
        }
        foreach (TcpPeerConnection connection in _connections.Values)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        _stopping.Dispose();
    }
}
