using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using NatPunch.Core;
using NatPunch.Streams;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// The driver of one peer-to-peer UDP path: one socket, one loop that owns the <see cref="IceAgent"/>
/// (gathering, checks, consent), and the sealed session between the selected path and the
/// stream above (PeerLink.Security.cs). Datagrams are told apart by their first byte: STUN goes to
/// the agent, sealed session datagrams that open go up to the stream, handshake frames to the
/// handshake, anything else is counted and dropped. With a relay (<see cref="StartRelayAsync"/>) the link also owns a TURN allocation
/// whose relayed address the agent uses as a candidate (PeerLink.Relay.cs).
/// </summary>
internal sealed partial class PeerLink : ISegmentChannel, IAsyncDisposable
{
    private const int MaxDatagram = 65536;

    private readonly Socket _socket;
    // Owned by the loop; replaced on an ICE restart.
    private IceAgent _agent;
    private readonly TimeProvider _time;
    private readonly long _epoch;
    private readonly Channel<Action> _commands = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<(byte[] Data, IPEndPoint From)> _received = Channel.CreateBounded<(byte[], IPEndPoint)>(
        new BoundedChannelOptions(4096) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Channel<IceEvent> _events = Channel.CreateUnbounded<IceEvent>();
    // Segments as opened: each one's own array, past its message type byte.
    private readonly Channel<ReadOnlyMemory<byte>> _inboundSegments = Channel.CreateBounded<ReadOnlyMemory<byte>>(
        new BoundedChannelOptions(8192) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _receiveLoop;
    private readonly Task _mainLoop;
    // Written by the loop, read by senders on any thread: where data goes (also pre-serialized,
    // so a send doesn't build a socket address each time).
    private volatile DataTarget? _dataTarget;
    private volatile DataTarget? _previousTarget;
    private long _strayDatagrams;
    private int _disposed;
    // Builds the first agent and each restart's (PathAction.NewAgent).
    private readonly Func<TimeSpan, IceAgent> _agentFactory;

    /// <param name="socket">A bound UDP socket the link takes over.</param>
    /// <param name="agentFactory">Builds the agent once the clock is running (it starts gathering at once).</param>
    public PeerLink(Socket socket, Func<TimeSpan, IceAgent> agentFactory, TimeProvider? time = null)
    {
        _socket = socket;
        _time = time ?? TimeProvider.System;
        _epoch = _time.GetTimestamp();
        _agentFactory = agentFactory;
        _agent = agentFactory(Now);
        _receiveLoop = Task.Run(() => ReceiveLoopAsync(_stopping.Token));
        _mainLoop = Task.Run(() => MainLoopAsync(_stopping.Token));
    }

    private TimeSpan Now => _time.GetElapsedTime(_epoch);

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>The agent's reports: candidates, selection, consent loss, failure.</summary>
    public ChannelReader<IceEvent> Events => _events.Reader;

    /// <summary>Where data currently goes; null until a pair is selected.</summary>
    public IPEndPoint? DataRemote => _dataTarget?.EndPoint;

    /// <summary>
    /// Where data goes: straight to <paramref name="EndPoint"/> from the socket, or with
    /// <paramref name="Relay"/> through our TURN allocation to that peer address, as ChannelData on
    /// <paramref name="Channel"/> once it is bound (0 until then: Send indications through the loop).
    /// </summary>
    private sealed record DataTarget(IPEndPoint EndPoint, SocketAddress Address, RelayConnection? Relay = null, ushort Channel = 0);

    /// <summary>Datagrams that were neither STUN nor a frame of this session from the selected peer.</summary>
    public long StrayDatagrams => Interlocked.Read(ref _strayDatagrams);

    /// <summary>Runs <paramref name="action"/> on the loop with the agent and returns its result.</summary>
    public Task<T> InvokeAsync<T>(Func<IceAgent, TimeSpan, T> action)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_commands.Writer.TryWrite(() =>
            {
                try
                {
                    result.SetResult(action(_agent, Now));
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
    /// Replaces the agent (an ICE restart after the path died): the new one gathers and checks
    /// afresh on the same socket, while data keeps going to the old remote until it selects a pair.
    /// </summary>
    public Task RestartAgentAsync(Func<TimeSpan, IceAgent> agentFactory) =>
        InvokeAsync((_, now) => ReplaceAgent(agentFactory, now));

    private void ReplaceAgent(Func<TimeSpan, IceAgent> agentFactory, TimeSpan now)
    {
        _agent = agentFactory(now);
        // The allocation outlives agents, but a quiet one may be gone (a restarted server): the
        // new agent gets it at once only if it was heard lately, else once it answers a refresh.
        if (!_relay.ConfirmIfQuiet(now) && _relay.UsableAllocation is { } allocation)
        {
            _agent.AddRelayedCandidate(allocation.RelayedAddress, allocation.MappedAddress);
        }
    }

    /// <summary>
    /// Sends a stream segment, sealed, on the selected path; dropped (the stream retransmits) while
    /// there is none, and never sent before the handshake has established the session.
    /// </summary>
    public void SendSegment(ReadOnlySpan<byte> segment)
    {
        DataTarget? target = _dataTarget;
        if (target is null || !_established)
        {
            return;
        }
        SendSealed(target, Security.SessionMessageType.Segment, segment, Now);
    }

    /// <summary>The next stream segment that arrived from the peer.</summary>
    public ValueTask<ReadOnlyMemory<byte>> ReceiveSegmentAsync(CancellationToken cancellationToken) => _inboundSegments.Reader.ReadAsync(cancellationToken);

    ValueTask ISegmentChannel.SendAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken)
    {
        SendSegment(segment.Span);
        return ValueTask.CompletedTask;
    }

    async ValueTask<int> ISegmentChannel.ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ReadOnlyMemory<byte> segment = await ReceiveSegmentAsync(cancellationToken).ConfigureAwait(false);
        int length = Math.Min(segment.Length, buffer.Length);
        segment[..length].CopyTo(buffer);
        return length;
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = GC.AllocateArray<byte>(MaxDatagram, pinned: true);
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // ICMP port unreachable and the like concern one peer, not the socket
            }
            var from = Candidate.Normalize((IPEndPoint)result.RemoteEndPoint);
            ReadOnlySpan<byte> datagram = buffer.AsSpan(0, result.ReceivedBytes);
            if (from.Equals(_udpRelayServer) && IsForRelay(datagram))
            {
                FromRelayServer(datagram, _udpRelay);
            }
            else if (IsSessionDatagram(datagram))
            {
                // The hot path: data skips the loop, it needs no agent state.
                OnSessionDatagram(datagram, from, null);
            }
            else if (IceAgent.IsStun(datagram))
            {
                _received.Writer.TryWrite((datagram.ToArray(), from));
                _commands.Writer.TryWrite(DrainReceived);
            }
            else
            {
                Interlocked.Increment(ref _strayDatagrams);
            }
        }
    }

    private void DrainReceived()
    {
        while (_received.Reader.TryRead(out var item))
        {
            _agent.HandleDatagram(item.Data, item.From, Now);
        }
    }

    private static bool IsSessionDatagram(ReadOnlySpan<byte> datagram) =>
        datagram.Length > 0 && datagram[0] is Security.SealedFrame.Marker or Security.HandshakeFrame.Marker;

    private async Task MainLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                FlushAgent();
                while (DrivePaths(Now))
                {
                    FlushAgent(); // what the path manager did to the agent (a new one, checks to start)
                }
                TimeSpan? wake = WakeUpTime.Earliest(WakeUpTime.Earliest(WakeUpTime.Earliest(_agent.NextWakeUp, RelayWakeUp), SecurityWakeUp), PathsWakeUp);
                TimeSpan delay = wake is { } w ? w - Now : Timeout.InfiniteTimeSpan;
                if (wake is null || delay > TimeSpan.Zero)
                {
                    // The wake-up runs on the link's clock (a fake one in tests), not the wall clock.
                    using var wakeUp = wake is null ? new CancellationTokenSource() : new CancellationTokenSource(delay, _time);
                    using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, wakeUp.Token);
                    try
                    {
                        await _commands.Reader.WaitToReadAsync(timer.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                    }
                }
                while (_commands.Reader.TryRead(out Action? command))
                {
                    command();
                }
                if (_agent.NextWakeUp is { } due && due <= Now)
                {
                    _agent.HandleTimeout(Now);
                }
                HandleRelayTimeouts(Now);
                HandleSecurityTimeouts(Now);
                HandlePathsTimeout(Now);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _events.Writer.TryComplete();
        }
    }

    /// <summary>Sends what the agent and the relay queued and handles what they report, until neither has anything left (one may feed the other).</summary>
    private void FlushAgent()
    {
        while (FlushAgentOnce(Now))
        {
        }
    }

    private bool FlushAgentOnce(TimeSpan now)
    {
        bool any = false;
        while (_agent.TryPollTransmit(now, out OutgoingDatagram datagram))
        {
            any = true;
            try
            {
                _socket.SendTo(datagram.Payload.Span, SocketFlags.None, datagram.To);
            }
            catch (SocketException)
            {
                // Unreachable candidates (no route) are normal; the check simply fails.
            }
        }
        while (_agent.TryPollRelayTransmit(out OutgoingDatagram relayed))
        {
            any = true;
            _relay.SendFromCandidate(relayed.To, relayed.Payload.Span, now);
        }
        any |= FlushRelay(now);
        while (_agent.TryPollEvent(out IceEvent e))
        {
            any = true;
            if (e is IceEvent.Selected selected)
            {
                IPEndPoint remote = selected.Remote.EndPoint;
                RelayConnection? relay = selected.Local.Type == CandidateType.Relayed && _relay.Current is { } current
                    ? _relayConnections.GetValueOrDefault(current) : null;
                bool movedNow = SelectTarget(new DataTarget(remote, WireAddress(remote).Serialize(), relay), selected, now);
                if (relay is not null)
                {
                    _relay.BindChannel(remote, now);
                }
                if (!movedNow)
                {
                    continue; // reported once the new path is validated
                }
            }
            else if (e is IceEvent.ConsentLost && _agent.SelectedPair is { SendsViaRelay: true })
            {
                _relay.ConfirmIfQuiet(now); // the relay itself may be what died
            }
            ReportIceEvent(e);
        }
        return any;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await CloseRelaysAsync().ConfigureAwait(false);
        _stopping.Cancel();
        _commands.Writer.TryComplete();
        _socket.Dispose();
        await Task.WhenAll(_receiveLoop, _mainLoop, _signalPumps).ConfigureAwait(false);
        foreach (RelayConnection relay in _relayConnections.Values)
        {
            await relay.DisposeAsync().ConfigureAwait(false);
        }
        _inboundSegments.Writer.TryComplete();
        _stopping.Dispose();
    }
}
