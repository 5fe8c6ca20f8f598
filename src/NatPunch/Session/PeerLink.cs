using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using NatPunch.Protocol.Net;
using NatPunch.Protocol.Turn;
using NatPunch.Security;
using NatPunch.Streams;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// The driver of one session on one UDP socket: one loop that owns the session core
/// (<see cref="PeerSession"/>: agent, relay, path management, handshake and keys) and feeds it the
/// socket, the relay's connections, the peer's signalling and the clock, and the sealed data path
/// between the selected path and the stream above (PeerLink.Security.cs). Datagrams are told apart
/// by their first byte: STUN goes to the core, sealed stream segments and stream messages that open
/// go up to the session's streams (<see cref="StreamMux"/>), pings are answered, handshake frames and
/// other sealed messages go to the core, anything else is counted and dropped. The relay's connections are PeerLink.Relay.cs, the signalling pumps PeerLink.Paths.cs.
/// </summary>
internal sealed partial class PeerLink : IStreamMuxHost, ILinkDatagramReceiver, IAsyncDisposable
{
    private const int MaxDatagram = 65536;

    private readonly Socket _socket;
    // Owned by the loop.
    private readonly PeerSession _session;
    private readonly TimeProvider _time;
    private readonly long _epoch;
    // Runs the core's work one action at a time, on the thread where it arrives (InlineSerialExecutor).
    private readonly InlineSerialExecutor _loop;
    private readonly Channel<(byte[] Data, IPEndPoint From)> _received = Channel.CreateBounded<(byte[], IPEndPoint)>(
        new BoundedChannelOptions(4096) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Channel<IceEvent> _events = Channel.CreateUnbounded<IceEvent>();
    // What arrived for the streams before the mux was attached: each body its own array.
    private readonly Channel<(SessionMessageType Type, ReadOnlyMemory<byte> Body)> _early = Channel.CreateBounded<(SessionMessageType, ReadOnlyMemory<byte>)>(
        new BoundedChannelOptions(8192) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _receiveLoop;
    // The shared poller's registration of the socket (Linux), or null: _receiveLoop reads it. Then
    // _receiveLoop is _pollerFault's task: it ends at disposal, or fails with a bug in handling a datagram.
    private readonly LinkPoller.Registration? _polled;
    private readonly TaskCompletionSource? _pollerFault;
    private readonly Task _mainLoop;
    // Wakes the loop when the core is due (ArmWakeUp): the poller's timer on the system clock where
    // the poller reads the socket, else a timer of the link's clock. _timerDue, loop-owned, is when it is set for.
    private readonly ITimer? _wakeTimer;
    private TimeSpan? _timerDue;
    // Written by the loop, read by senders on any thread: where data goes (also pre-serialized,
    // so a send doesn't build a socket address each time).
    private volatile DataTarget? _dataTarget;
    private volatile DataTarget? _previousTarget;
    private long _strayDatagrams;
    private int _disposed;

    /// <param name="socket">A bound UDP socket the link takes over.</param>
    /// <param name="agentFactory">Builds the agent once the clock is running (it starts gathering at once).</param>
    public PeerLink(Socket socket, Func<TimeSpan, IceAgent> agentFactory, TimeProvider? time = null)
    {
        _socket = socket;
        _time = time ?? TimeProvider.System;
        _epoch = _time.GetTimestamp();
        _session = new PeerSession(agentFactory, Now);
        if (LinkPoller.Shared is { } poller)
        {
            _pollerFault = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _receiveLoop = _pollerFault.Task;
            _polled = poller.Add(socket, this);
        }
        else
        {
            _receiveLoop = DedicatedThread.Start("natpunch link receive", () => ReceiveLoop(_stopping.Token));
        }
        if (_polled is null || _time != TimeProvider.System)
        {
            _wakeTimer = _time.CreateTimer(static state => ((PeerLink)state!).OnWakeUp(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        _loop = new InlineSerialExecutor(FlushAndRearm);
        _mainLoop = CompleteEventsAfterLoopAsync();
        _loop.TryPost(static () => { }); // the first turn: what the new core queued goes out
    }

    private TimeSpan Now => _time.GetElapsedTime(_epoch);

    /// <summary>The link's timer fired (on the poller's thread, or the clock's): the loop runs its due timeouts.</summary>
    public void OnWakeUp() => _loop.TryPost(WakeUpFired);

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>The agent's reports until the session's paths run (candidates gathered, for the offer).</summary>
    public ChannelReader<IceEvent> Events => _events.Reader;

    /// <summary>Where data currently goes; null until a pair is selected.</summary>
    public IPEndPoint? DataRemote => _dataTarget?.EndPoint;

    /// <summary>
    /// Where data goes: straight to <paramref name="EndPoint"/> from <paramref name="From"/> (the main
    /// socket, or the extra socket that port probing found the path with), or with
    /// <paramref name="Relay"/> through our TURN allocation to that peer address, as ChannelData on
    /// <paramref name="Channel"/> once it is bound (0 until then: Send indications through the loop),
    /// or with <paramref name="Tcp"/> on the TCP connection punched to it.
    /// </summary>
    private sealed record DataTarget(IPEndPoint EndPoint, SocketAddress Address, Socket From, RelayConnection? Relay = null, ushort Channel = 0,
        TcpPeerConnection? Tcp = null)
    {
        /// <summary>Whether this target sends to <paramref name="path"/>'s peer the same way (straight, through its relay, or on TCP).</summary>
        public bool Goes(SessionPath path) => EndPoint.Equals(path.EndPoint) && Relay?.Attempt == path.Via && (Tcp is not null) == path.Tcp;
    }

    /// <summary>Datagrams that were neither STUN nor a frame of this session from the selected peer.</summary>
    public long StrayDatagrams => Interlocked.Read(ref _strayDatagrams);

    /// <summary>The session's agent now; read it only on the link's loop (path events run there).</summary>
    internal IceAgent AgentOnLoop => _session.Agent;

    /// <summary>Runs <paramref name="action"/> on the loop with the agent and returns its result.</summary>
    public Task<T> InvokeAsync<T>(Func<IceAgent, TimeSpan, T> action)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_loop.TryPost(() =>
            {
                try
                {
                    result.SetResult(action(_session.Agent, Now));
                    _session.Flush(Now); // what the action queued (a regather's requests)
                }
                catch (Exception e)
                {
                    result.SetException(e);
                }
            }))
        {
            result.SetException(new ObjectDisposedException(nameof(PeerLink)));
        }
        return result.Task;
    }

    public Task InvokeAsync(Action<IceAgent, TimeSpan> action) => InvokeAsync<bool>((agent, now) => { action(agent, now); return true; });

    /// <summary>
    /// Replaces the agent (an ICE restart, as the path manager does after the path died): the new one
    /// gathers and checks afresh on the same socket, while data keeps going to the old remote until it selects a pair.
    /// </summary>
    public Task RestartAgentAsync(Func<TimeSpan, IceAgent> agentFactory) =>
        InvokeAsync((_, now) => _session.ReplaceAgent(now, agentFactory));

    /// <summary>Seals and sends a session message (stream limits, datagrams, pings) on the data path; dropped while there is none.</summary>
    public void SendMessage(SessionMessageType type, ReadOnlySpan<byte> body)
    {
        DataTarget? target = _dataTarget;
        if (target is null || !_established)
        {
            return;
        }
        SendSealed(target, type, body, Now);
    }

    /// <summary>
    /// The largest datagram body the current path carries in one packet: what is left of IPv6's
    /// minimum MTU (1,280 bytes, RFC 8200 §5), which every path carries, after the IP and UDP headers,
    /// the relay's ChannelData header and the seal.
    /// </summary>
    public int MaxDatagramSize
    {
        get
        {
            DataTarget? target = _dataTarget;
            bool v6 = target is null || target.EndPoint.AddressFamily == AddressFamily.InterNetworkV6
                || target.Relay?.Server.AddressFamily == AddressFamily.InterNetworkV6;
            int headers = (v6 ? 40 : 20) + 8 + (target?.Relay is null ? 0 : ChannelData.HeaderLength);
            return MinimumPathMtu - headers - SealedFrame.Overhead;
        }
    }

    private const int MinimumPathMtu = 1280;

    // Set once, by the connection: from then on stream segments and messages go to it from the receiving thread.
    private volatile StreamMux? _mux;

    /// <summary>Hands everything for the streams to <paramref name="mux"/> from now on, and what arrived before.</summary>
    public void Attach(StreamMux mux)
    {
        mux.OnPathChanged(_dataTarget?.Tcp is not null);
        _mux = mux;
        DeliverEarly(mux);
    }

    private void DeliverEarly(StreamMux mux)
    {
        while (_early.Reader.TryRead(out var early))
        {
            if (early.Type == SessionMessageType.Segment)
            {
                mux.OnSegment(early.Body.Span);
            }
            else
            {
                mux.OnMessage(early.Type, early.Body.Span);
            }
        }
    }

    /// <summary>
    /// Where <see cref="LinkPoller"/> is not available: the socket's reader on a thread of its own
    /// (<see cref="DedicatedThread"/>), blocked in the receive call. Disposing the socket ends it.
    /// </summary>
    private void ReceiveLoop(CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[MaxDatagram];
        var address = new SocketAddress(_socket.AddressFamily);
        var template = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            int received;
            try
            {
                received = _socket.ReceiveFrom(buffer, SocketFlags.None, address);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return; // the socket was closed under the call
                }
                continue; // ICMP port unreachable and the like concern one peer, not the socket
            }
            OnDatagram(buffer.AsSpan(0, received), (IPEndPoint)template.Create(address));
        }
    }

    /// <summary>Handling a datagram the poller read threw: disposing the link reports it, as its own reader's failure would.</summary>
    public void OnFault(Exception error) => _pollerFault?.TrySetException(error);

    /// <summary>
    /// A datagram on the socket, on the thread that read it (the poller's or the link's own): session
    /// data is opened and delivered here, STUN goes to the loop, the relay server's messages to the relay.
    /// </summary>
    public void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint source)
    {
        IPEndPoint from = Candidate.Normalize(source);
        if (from.Equals(_udpRelayServer) && IsForRelay(datagram))
        {
            FromRelayServer(datagram, _udpRelay);
        }
        else if (PeerSession.IsSessionDatagram(datagram))
        {
            // The hot path: data skips the loop, it needs no agent state.
            OnSessionDatagram(datagram, from, null);
        }
        else if (IceAgent.IsStun(datagram))
        {
            _received.Writer.TryWrite((datagram.ToArray(), from));
            _loop.TryPost(DrainReceived);
        }
        else
        {
            Interlocked.Increment(ref _strayDatagrams);
        }
    }

    private void DrainReceived()
    {
        while (_received.Reader.TryRead(out var item))
        {
            _session.HandleStun(item.Data, item.From, Now);
        }
    }

    /// <summary>
    /// After each run of the loop's actions: what the core queued goes out, its timeouts that are due
    /// run, and the timer is set for the next.
    /// </summary>
    private void FlushAndRearm()
    {
        while (true)
        {
            DrainSession(Now);
            if (_session.NextWakeUp is not { } due)
            {
                return;
            }
            if (due > Now)
            {
                ArmWakeUp(due);
                return;
            }
            _session.HandleTimeout(Now);
        }
    }

    /// <summary>The loop's end (disposal, or a bug that threw in it) also ends the agent's reports.</summary>
    private async Task CompleteEventsAfterLoopAsync()
    {
        try
        {
            await _loop.Completion.ConfigureAwait(false);
        }
        finally
        {
            _events.Writer.TryComplete();
        }
    }

    /// <summary>
    /// Sets the link's one timer to wake the loop at <paramref name="due"/>, on the link's clock (a fake
    /// one in tests), unless it is set for that already. Making a timer per loop turn instead cost an
    /// allocation per datagram and kept the runtime's timer thread busy (bench/idle-sessions.sh).
    /// </summary>
    private void ArmWakeUp(TimeSpan due)
    {
        if (_timerDue == due)
        {
            return;
        }
        _timerDue = due;
        if (_wakeTimer is null)
        {
            // The system clock's timestamps are Stopwatch's; rounded up, as firing early only sets it again.
            _polled!.WakeAt(_epoch + (long)Math.Ceiling(due.Ticks * (double)Stopwatch.Frequency / TimeSpan.TicksPerSecond));
            return;
        }
        TimeSpan delay = due - Now;
        _wakeTimer.Change(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The timer fired: on the loop, it is no longer set.</summary>
    private void WakeUpFired() => _timerDue = null;

    private void DrainSession(TimeSpan now)
    {
        bool any = true;
        while (any)
        {
            any = false;
            // Events first: a relay attempt's connection must exist before what the core queued for it is sent.
            while (_session.TryPollEvent(out SessionEvent e))
            {
                any = true;
                HandleSessionEvent(e, now);
            }
            while (_session.TryPollTransmit(out SessionTransmit transmit))
            {
                any = true;
                Send(transmit);
            }
        }
    }

    private void Send(SessionTransmit transmit)
    {
        if (transmit.Tcp)
        {
            SendOnTcp(transmit);
            return;
        }
        if (transmit.Via is { } attempt)
        {
            if (_relayConnections.TryGetValue(attempt, out RelayConnection? connection))
            {
                connection.SendRaw(transmit.Payload.Span);
            }
            return;
        }
        try
        {
            SocketFor(transmit.To).SendTo(transmit.Payload.Span, SocketFlags.None, transmit.To);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Unreachable candidates (no route) are normal; the check simply fails.
        }
    }

    private void HandleSessionEvent(SessionEvent e, TimeSpan now)
    {
        switch (e)
        {
            case SessionEvent.Ice { Event: IceEvent.OpenProbeSockets open }:
                OpenProbeSockets(open);
                break;
            case SessionEvent.Ice { Event: IceEvent.ProbeSocketsDone }:
                CloseUnusedProbeSockets();
                break;
            case SessionEvent.Ice { Event: IceEvent.TraceRouteToPeer trace }:
                _ = TraceRouteToPeerAsync(trace);
                break;
            case SessionEvent.Ice { Event: IceEvent.PunchTcp punch }:
                PunchTcp(punch);
                break;
            case SessionEvent.Ice ice:
                if (_pathHost is null)
                {
                    _events.Writer.TryWrite(ice.Event); // gathering, for the offer; from the introduction on the core has them
                }
                break;
            case SessionEvent.Relay relayEvent:
                HandleRelayEvent(relayEvent.Event);
                break;
            case SessionEvent.RelayedSessionDatagram datagram when _relayConnections.TryGetValue(datagram.Via, out RelayConnection? connection):
                OnSessionDatagram(datagram.Payload.Span, datagram.Peer, connection);
                break;
            case SessionEvent.RelayedSessionDatagram or SessionEvent.Stray:
                Interlocked.Increment(ref _strayDatagrams);
                break;
            case SessionEvent.Keys or SessionEvent.Established or SessionEvent.Validating or SessionEvent.DataPath or SessionEvent.SendToPeer:
                HandleSecurityEvent(e);
                break;
            default:
                HandlePathEvent(e);
                break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await CloseRelaysAsync().ConfigureAwait(false);
        await StopPortMappingAsync().ConfigureAwait(false);
        _stopping.Cancel();
        _loop.Close();
        _polled?.Dispose();
        _pollerFault?.TrySetResult();
        CloseAllProbeSockets();
        if (_tcp is { } tcp)
        {
            await tcp.DisposeAsync().ConfigureAwait(false);
        }
        _socket.Dispose();
        await Task.WhenAll(_receiveLoop, _mainLoop, _signalPumps).ConfigureAwait(false);
        if (_wakeTimer is not null)
        {
            await _wakeTimer.DisposeAsync().ConfigureAwait(false);
        }
        foreach (RelayConnection relay in _relayConnections.Values)
        {
            await relay.DisposeAsync().ConfigureAwait(false);
        }
        _early.Writer.TryComplete();
        _mux?.OnChannelClosed(new IOException("the session's link was closed"));
        _stopping.Dispose();
    }
}
