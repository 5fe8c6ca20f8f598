using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NatPunch.Core;

namespace NatPunch.Relay;

/// <summary>
/// A TURN client on a real socket: one allocation on one server (RFC 8656). One loop task owns the
/// <see cref="TurnClientCore"/>; callers' requests, the socket's datagrams and the core's wake-ups
/// are events on one channel that only the loop reads, so there are no locks.
/// </summary>
public sealed partial class TurnClient : IAsyncDisposable
{
    private readonly TurnClientCore _core;
    private readonly TurnConnectionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _epoch;
    private readonly Socket _socket;
    private readonly Channel<Action> _events = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<TurnDatagram> _received;
    private readonly CancellationTokenSource _stopping = new();
    // Owned by the loop: callers waiting for a request, keyed by (operation, peer).
    private readonly Dictionary<(TurnOperation, IPEndPoint?), List<TaskCompletionSource<TurnOperationResult>>> _waiters = [];
    private Task _loop = Task.CompletedTask;
    private Task _receiveLoop = Task.CompletedTask;
    private TurnError? _fatal;
    private long _droppedReceived;
    private int _disposed;

    private TurnClient(IPEndPoint server, TurnCredentials credentials, TurnConnectionOptions options, TimeProvider time, Socket socket, ILogger? logger)
    {
        _logger = logger ?? NullLogger.Instance;
        _options = options;
        _time = time;
        _epoch = time.GetTimestamp();
        _socket = socket;
        _core = new TurnClientCore(server, credentials, options.Client with { Reliable = options.Transport == TurnServerTransport.Tcp });
        _core.OperationCompleted += OnOperationCompleted;
        _core.StateChanged += OnStateChanged;
        _received = Channel.CreateBounded<TurnDatagram>(new BoundedChannelOptions(options.ReceiveQueueCapacity)
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        }, _ => Interlocked.Increment(ref _droppedReceived));
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>The local socket address.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The TURN server.</summary>
    public IPEndPoint Server => _core.Server;

    /// <summary>The allocation, once <see cref="AllocateAsync"/> has succeeded (read from any thread; replaced on refresh).</summary>
    public RelayAllocation? Allocation { get; private set; }

    /// <summary>The allocation's state (read from any thread).</summary>
    public TurnClientState State { get; private set; }

    /// <summary>Any TURN request finished, the client's own refreshes included. Raised on the client's loop: return quickly.</summary>
    public event Action<TurnOperationResult>? OperationCompleted;

    /// <summary>Relayed datagrams dropped because nobody called <see cref="ReceiveAsync"/> fast enough.</summary>
    public long DroppedReceived => Interlocked.Read(ref _droppedReceived);

    /// <summary>
    /// Opens the socket to <paramref name="server"/> (UDP, or a TCP connection) and starts the loop.
    /// Nothing is sent to the server until <see cref="AllocateAsync"/>.
    /// </summary>
    /// <param name="server">The TURN server's address.</param>
    /// <param name="credentials">Long-term credentials (or ones from <see cref="TurnCredentials.FromSharedSecret"/>).</param>
    /// <param name="options">Transport and protocol options; <see cref="TurnConnectionOptions.Default"/> if null.</param>
    /// <param name="timeProvider">The clock for retransmissions and refreshes; <see cref="TimeProvider.System"/> if null.</param>
    /// <param name="logger">Allocation, failures and (at Debug) each finished request.</param>
    /// <param name="cancellationToken">Cancels the TCP connect.</param>
    public static async Task<TurnClient> ConnectAsync(IPEndPoint server, TurnCredentials credentials, TurnConnectionOptions? options = null,
        TimeProvider? timeProvider = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(credentials);
        options ??= TurnConnectionOptions.Default;
        IPEndPoint local = options.LocalEndPoint
                           ?? new IPEndPoint(server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        Socket socket = options.Transport == TurnServerTransport.Tcp
            ? new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }
            : new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(local);
            if (options.Transport == TurnServerTransport.Tcp)
            {
                await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                socket.ReceiveBufferSize = 1 << 20;
                socket.SendBufferSize = 1 << 20;
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var client = new TurnClient(server, credentials, options, timeProvider ?? TimeProvider.System, socket, logger);
        client._loop = Task.Run(client.RunLoopAsync);
        client._receiveLoop = Task.Run(options.Transport == TurnServerTransport.Tcp ? client.ReceiveTcpAsync : client.ReceiveUdpAsync);
        return client;
    }

    /// <summary>Allocates a relayed address (RFC 8656 §7), authenticating with the credentials.</summary>
    /// <exception cref="TurnException">The server refused (wrong credentials, quota, capacity…) or did not answer.</exception>
    public async Task<RelayAllocation> AllocateAsync(CancellationToken cancellationToken = default)
    {
        await RequestAsync(TurnOperation.Allocate, null, now => _core.Allocate(now), cancellationToken).ConfigureAwait(false);
        return Allocation!;
    }

    /// <summary>Installs a permission for <paramref name="peer"/>'s IP (RFC 8656 §9); the client refreshes it until disposed.</summary>
    /// <exception cref="TurnException">The server refused (403 for a forbidden peer) or did not answer.</exception>
    public Task CreatePermissionAsync(IPAddress peer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return RequestAsync(TurnOperation.CreatePermission, new IPEndPoint(peer, 0), now => _core.CreatePermission(peer, now), cancellationToken);
    }

    /// <summary>Installs a permission for <paramref name="peer"/>'s IP (the port does not matter).</summary>
    public Task CreatePermissionAsync(IPEndPoint peer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return CreatePermissionAsync(peer.Address, cancellationToken);
    }

    /// <summary>Binds a channel to <paramref name="peer"/> (RFC 8656 §12); afterwards data to and from it travels as ChannelData.</summary>
    /// <returns>The channel number.</returns>
    public async Task<ushort> BindChannelAsync(IPEndPoint peer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        TurnOperationResult result = await RequestAsync(TurnOperation.ChannelBind, peer, now => _core.BindChannel(peer, now), cancellationToken)
            .ConfigureAwait(false);
        return result.Channel;
    }

    /// <summary>Sends <paramref name="payload"/> to <paramref name="peer"/> through the relay (ChannelData when bound, else a Send indication).</summary>
    public Task SendAsync(IPEndPoint peer, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                _core.Send(peer, payload.Span, Now);
                done.TrySetResult();
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                done.TrySetException(e);
            }
        }, done);
        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>The next datagram a peer sent to the relayed address.</summary>
    /// <exception cref="TurnException">The allocation was lost.</exception>
    /// <exception cref="ChannelClosedException">The client was disposed.</exception>
    public ValueTask<TurnDatagram> ReceiveAsync(CancellationToken cancellationToken = default) =>
        _received.Reader.ReadAsync(cancellationToken);

    /// <summary>Deletes the allocation (Refresh with LIFETIME 0, waiting at most <see cref="TurnConnectionOptions.CloseTimeout"/>), then closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        if (State == TurnClientState.Allocated && _fatal is null)
        {
            try
            {
                using var timeout = new CancellationTokenSource(_options.CloseTimeout, _time);
                await RequestAsync(TurnOperation.Close, null, now => _core.Close(now), timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TurnException or OperationCanceledException or InvalidOperationException)
            {
                // Best effort: the server expires the allocation anyway.
            }
        }
        // Stop the loop before closing the socket, so that it never sends on a closed one; then
        // close the socket, which ends a receive the cancellation did not.
        await _stopping.CancelAsync().ConfigureAwait(false);
        _events.Writer.TryComplete();
        await IgnoreFailureAsync(_loop).ConfigureAwait(false);
        _socket.Dispose();
        await IgnoreFailureAsync(_receiveLoop).ConfigureAwait(false);
        _received.Writer.TryComplete();
        _stopping.Dispose();
    }

    private static async Task IgnoreFailureAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
        {
            // The loops end by cancellation or by their socket closing under them.
        }
    }

    private TimeSpan Now => _time.GetElapsedTime(_epoch);

    private async Task<TurnOperationResult> RequestAsync(TurnOperation operation, IPEndPoint? peer, Action<TimeSpan> start, CancellationToken cancellationToken)
    {
        var waiter = new TaskCompletionSource<TurnOperationResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            if (_fatal is not null)
            {
                waiter.TrySetException(new TurnException(_fatal));
                return;
            }
            var key = (operation, peer);
            if (!_waiters.TryGetValue(key, out List<TaskCompletionSource<TurnOperationResult>>? list))
            {
                list = [];
                _waiters[key] = list;
            }
            list.Add(waiter);
            try
            {
                start(Now);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                list.Remove(waiter);
                waiter.TrySetException(e);
            }
        }, waiter);
        TurnOperationResult result = await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return result.Error is { } error ? throw new TurnException(error) : result;
    }

    private void Post(Action work, object completion)
    {
        if (!_events.Writer.TryWrite(work))
        {
            var disposed = new ObjectDisposedException(nameof(TurnClient));
            switch (completion)
            {
                case TaskCompletionSource tcs:
                    tcs.TrySetException(disposed);
                    break;
                case TaskCompletionSource<TurnOperationResult> tcs:
                    tcs.TrySetException(disposed);
                    break;
            }
        }
    }

    /// <summary>Runs on the loop, from inside the core.</summary>
    private void OnOperationCompleted(TurnOperationResult result)
    {
        if (result.Operation == TurnOperation.Allocate && result.Succeeded)
        {
            Allocation = _core.Allocation;
        }
        else if (result.Operation == TurnOperation.Refresh && result.Succeeded)
        {
            Allocation = _core.Allocation;
        }
        if (result.Error is { } error)
        {
            LogOperationFailed(result.Operation, result.Peer, error.Message);
        }
        else if (result.Operation == TurnOperation.Allocate)
        {
            LogAllocated(Server, Allocation!.RelayedAddress, Allocation.MappedAddress, Allocation.Lifetime);
        }
        else
        {
            LogOperationSucceeded(result.Operation, result.Peer, result.IsAutomatic ? " (automatic refresh)" : "");
        }
        OperationCompleted?.Invoke(result);
        if (_waiters.Remove((result.Operation, result.Peer), out List<TaskCompletionSource<TurnOperationResult>>? list))
        {
            foreach (TaskCompletionSource<TurnOperationResult> waiter in list)
            {
                waiter.TrySetResult(result);
            }
        }
    }

    /// <summary>Runs on the loop, from inside the core.</summary>
    private void OnStateChanged(TurnClientState state)
    {
        State = state;
        Allocation = _core.Allocation;
        if (state == TurnClientState.Failed && _core.Error is { } error && _core.Allocation is not null)
        {
            FailAll(error);
        }
        else if (state == TurnClientState.Closed)
        {
            foreach (KeyValuePair<(TurnOperation, IPEndPoint?), List<TaskCompletionSource<TurnOperationResult>>> entry in _waiters.ToArray())
            {
                if (entry.Key.Item1 == TurnOperation.Close)
                {
                    continue;
                }
                _waiters.Remove(entry.Key);
                entry.Value.ForEach(w => w.TrySetException(new InvalidOperationException("The TURN allocation was closed.")));
            }
        }
    }

    /// <summary>The allocation or the connection is gone: every waiter and every reader learns why.</summary>
    private void FailAll(TurnError error)
    {
        if (_fatal is null)
        {
            LogAllocationLost(Server, error.Message);
        }
        _fatal ??= error;
        foreach (List<TaskCompletionSource<TurnOperationResult>> list in _waiters.Values)
        {
            list.ForEach(w => w.TrySetException(new TurnException(error)));
        }
        _waiters.Clear();
        _received.Writer.TryComplete(new TurnException(error));
    }
}
