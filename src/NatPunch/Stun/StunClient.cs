using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NatPunch.Protocol.Stun;
using NatPunch.Stun.Internal;

namespace NatPunch.Stun;

/// <summary>
/// A STUN client on one UDP socket (RFC 8489 §6.2.1): many concurrent transactions, matched by
/// transaction id by one receive loop, retransmitted by one timer. Requests can go to any
/// destination from the same socket, which the NAT behaviour tests of RFC 5780 §4 need.
/// <para>
/// Malformed datagrams and responses to no current transaction are ignored and counted.
/// A Binding request over TCP is available too (<see cref="SendTcpAsync(StunRequest, CancellationToken)"/>).
/// </para>
/// </summary>
public sealed partial class StunClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _anyEndPoint;
    private readonly TimeProvider _time;
    private readonly long _epoch;
    private readonly StunClientOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ITimer _timer;
    private readonly Task _receiveLoop;

    // Guards _pending, _awaitedRequests, _timerDueAt and _disposed.
    private readonly Lock _lock = new();
    private readonly Dictionary<TransactionId, PendingTransaction> _pending = [];
    private readonly Dictionary<TransactionId, TaskCompletionSource<IPEndPoint>> _awaitedRequests = [];
    private TimeSpan _timerDueAt = TimeSpan.MaxValue;
    private bool _disposed;

    private long _malformedDatagrams;
    private long _unmatchedDatagrams;

    /// <summary>Binds the socket and starts the receive loop.</summary>
    /// <param name="timeProvider">The clock for retransmissions; <see cref="TimeProvider.System"/> if null.</param>
    /// <exception cref="SocketException">The local endpoint cannot be bound.</exception>
    public StunClient(StunClientOptions? options = null, TimeProvider? timeProvider = null, ILogger<StunClient>? logger = null)
    {
        _options = options ?? StunClientOptions.Default;
        _options.Retransmission.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _socket = CreateSocket(_options.LocalEndPoint);
        _anyEndPoint = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        LocalEndPoint = SocketAddressing.Normalize((IPEndPoint)_socket.LocalEndPoint!);
        _epoch = _time.GetTimestamp();
        _timer = _time.CreateTimer(static state => ((StunClient)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>The bound address and port; the wildcard address unless a specific one was given.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Address family of the socket; IPv6 sockets are dual mode when bound to the wildcard.</summary>
    public AddressFamily AddressFamily => _socket.AddressFamily;

    /// <summary>Datagrams that did not parse as STUN (RFC 8489 §6.3: silently discarded).</summary>
    public long MalformedDatagrams => Interlocked.Read(ref _malformedDatagrams);

    /// <summary>Well-formed STUN messages that matched no current transaction (late retransmission answers, strays).</summary>
    public long UnmatchedDatagrams => Interlocked.Read(ref _unmatchedDatagrams);

    /// <summary>Transactions in flight that this client sends.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Values.Count(p => p.Sender == this);
            }
        }
    }

    private TimeSpan Now => _time.GetElapsedTime(_epoch);

    /// <summary>
    /// Resolves <paramref name="server"/> (<c>HOST:PORT</c>, <c>[IPv6]:PORT</c>, or <c>HOST</c> for port 3478)
    /// to an address this socket can send to: IPv4 for an IPv4 socket, otherwise IPv4 first, else IPv6.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="server"/> is not HOST:PORT.</exception>
    /// <exception cref="SocketException">The name does not resolve to a usable address.</exception>
    public Task<IPEndPoint> ResolveAsync(string server, CancellationToken cancellationToken = default)
    {
        if (!HostAndPort.TryParse(server, StunConstants.DefaultPort, out HostAndPort hostAndPort, out string error))
        {
            throw new ArgumentException(error, nameof(server));
        }
        AddressFamily? family = _socket.AddressFamily == AddressFamily.InterNetwork
            ? AddressFamily.InterNetwork
            : _socket.DualMode ? null : AddressFamily.InterNetworkV6;
        return hostAndPort.ResolveAsync(family, cancellationToken);
    }

    /// <summary>Sends a Binding request to <paramref name="server"/> and waits for the answer.</summary>
    public Task<StunResponse> BindingAsync(IPEndPoint server, CancellationToken cancellationToken = default) =>
        SendAsync(new StunRequest(server), null, cancellationToken);

    /// <summary>
    /// Runs one transaction: sends <paramref name="request"/>, retransmits it per the client's
    /// <see cref="StunClientOptions.Retransmission"/>, and completes with the success or error response.
    /// </summary>
    /// <exception cref="StunTransactionTimeoutException">No response came.</exception>
    /// <exception cref="SocketException">The request could not be sent (no route, …).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task<StunResponse> SendAsync(StunRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(request, null, cancellationToken);

    /// <summary>
    /// Like <see cref="SendAsync(StunRequest, CancellationToken)"/>, but the response may also arrive on
    /// <paramref name="responseReceiver"/>'s socket — for a request with RESPONSE-PORT set to that
    /// socket's mapped port (RFC 5780 §4.6, §7.5). <see cref="StunResponse.ReceivedOn"/> says which socket got it.
    /// </summary>
    public Task<StunResponse> SendAsync(StunRequest request, StunClient? responseReceiver, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<StunResponse>(cancellationToken);
        }
        TransactionId id = request.TransactionId ?? TransactionId.NewRandom();
        byte[] datagram = (request.Software is null && _options.Software is not null ? request with { Software = _options.Software } : request).Encode(id);
        var core = new StunClientTransaction(datagram, _options.Retransmission);
        IPEndPoint destination = SocketAddressing.ForSocket(request.Destination, _socket.AddressFamily);
        var pending = new PendingTransaction(core, this, responseReceiver == this ? null : responseReceiver, request.Destination, destination.Serialize());

        Register(pending);
        if (pending.Receiver is { } receiver)
        {
            try
            {
                receiver.Register(pending);
            }
            catch
            {
                Unregister(pending);
                throw;
            }
        }
        pending.Registration = cancellationToken.UnsafeRegister(
            static (state, token) => Finish((PendingTransaction)state!, null, new OperationCanceledException(token)),
            pending);
        if (pending.Completion.Task.IsCompleted)
        {
            return pending.Completion.Task;
        }

        TimeSpan now = Now;
        StunTransactionStep step;
        lock (pending.Gate)
        {
            step = core.Poll(now);
        }
        Transmit(pending, step);
        if (step.NextWakeUp is { } wakeUp)
        {
            lock (_lock)
            {
                ScheduleTimerLocked(wakeUp, now);
            }
        }
        return pending.Completion.Task;
    }

    /// <summary>
    /// Waits until a STUN request with transaction id <paramref name="id"/> arrives on this socket and
    /// returns where it came from. The hairpinning test (RFC 5780 §4.5) sends such a request from
    /// another socket to this socket's mapped address.
    /// </summary>
    public Task<IPEndPoint> WaitForRequestAsync(TransactionId id, CancellationToken cancellationToken = default)
    {
        var completion = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_awaitedRequests.TryAdd(id, completion))
            {
                throw new InvalidOperationException($"Already waiting for a request with transaction id {id}.");
            }
        }
        if (cancellationToken.CanBeCanceled)
        {
            CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var (client, id, completion) = ((StunClient, TransactionId, TaskCompletionSource<IPEndPoint>))state!;
                lock (client._lock)
                {
                    client._awaitedRequests.Remove(id);
                }
                completion.TrySetCanceled(token);
            }, (this, id, completion));
            completion.Task.ContinueWith(static (_, state) => ((CancellationTokenRegistration)state!).Unregister(), registration,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return completion.Task;
    }

    private void Register(PendingTransaction pending)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_pending.TryAdd(pending.Core.Id, pending))
            {
                throw new InvalidOperationException($"A transaction with id {pending.Core.Id} is already in flight.");
            }
        }
    }

    private void Unregister(PendingTransaction pending)
    {
        lock (_lock)
        {
            if (_pending.TryGetValue(pending.Core.Id, out PendingTransaction? current) && current == pending)
            {
                _pending.Remove(pending.Core.Id);
            }
        }
    }

    /// <summary>Completes a transaction once: takes it out of both tables and settles the caller's task.</summary>
    private static void Finish(PendingTransaction pending, StunResponse? response, Exception? error)
    {
        if (!pending.TryMarkFinished())
        {
            return;
        }
        pending.Sender.Unregister(pending);
        pending.Receiver?.Unregister(pending);
        pending.Registration.Unregister();
        if (response is not null)
        {
            pending.Completion.TrySetResult(response);
        }
        else if (error is OperationCanceledException canceled)
        {
            pending.Completion.TrySetCanceled(canceled.CancellationToken);
        }
        else
        {
            pending.Completion.TrySetException(error!);
        }
    }

    private void Transmit(PendingTransaction pending, StunTransactionStep step)
    {
        if (!step.ShouldSend)
        {
            return;
        }
        try
        {
            if (pending.Core.SendCount > 1)
            {
                LogRetransmit(pending.Core.Id, pending.Core.SendCount, pending.Destination);
            }
            _socket.SendTo(step.Datagram.Span, SocketFlags.None, pending.DestinationAddress);
        }
        catch (SocketException ex)
        {
            LogSendFailed(pending.Destination, ex.SocketErrorCode);
            Finish(pending, null, ex);
        }
        catch (ObjectDisposedException ex)
        {
            Finish(pending, null, ex);
        }
    }

    private static Socket CreateSocket(IPEndPoint? localEndPoint)
    {
        if (localEndPoint is null && Socket.OSSupportsIPv6)
        {
            var dual = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                dual.DualMode = true;
                dual.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
                return dual;
            }
            catch (SocketException)
            {
                dual.Dispose();
            }
        }
        localEndPoint ??= new IPEndPoint(IPAddress.Any, 0);
        var socket = new Socket(localEndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (localEndPoint.AddressFamily == AddressFamily.InterNetworkV6 && localEndPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            socket.Bind(localEndPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Closes the socket; transactions still in flight fail with <see cref="ObjectDisposedException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        PendingTransaction[] pending;
        TaskCompletionSource<IPEndPoint>[] awaited;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            pending = [.. _pending.Values];
            awaited = [.. _awaitedRequests.Values];
            _pending.Clear();
            _awaitedRequests.Clear();
        }
        _shutdown.Cancel();
        _socket.Dispose();
        try
        {
            await _receiveLoop.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogReceiveLoopFailed(ex);
        }
        await _timer.DisposeAsync().ConfigureAwait(false);
        var disposed = new ObjectDisposedException(nameof(StunClient));
        foreach (PendingTransaction transaction in pending)
        {
            if (transaction.Sender == this)
            {
                Finish(transaction, null, disposed);
            }
        }
        foreach (TaskCompletionSource<IPEndPoint> completion in awaited)
        {
            completion.TrySetException(disposed);
        }
        _shutdown.Dispose();
    }
}
