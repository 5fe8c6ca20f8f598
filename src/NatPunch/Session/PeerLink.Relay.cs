using System.Buffers.Binary;
using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Relay;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// The link's TURN allocation: started with <see cref="StartRelayAsync"/>, it becomes the agent's
/// relayed candidate; checks the agent sends from it and data on a relayed path go through it.
/// Everything here runs on the link's loop, except the data path (<c>SendFramed</c>,
/// <see cref="FromRelayServer"/>), which reads only immutable targets.
/// </summary>
internal sealed partial class PeerLink
{
    // Loop-owned.
    private readonly List<RelayConnection> _relayAttempts = [];
    private readonly HashSet<IPAddress> _permissionsAsked = [];
    private RelayServer? _relayServer;
    private RelayConnection? _relay;
    private TimeSpan? _tcpRelayDueAt;
    private bool _relayFailureReported;
    // Read by the receive loop: datagrams from this address may be the UDP allocation's.
    private volatile IPEndPoint? _udpRelayServer;
    private volatile RelayConnection? _udpRelay;

    /// <summary>
    /// Allocates a relayed candidate on <paramref name="server"/> (UDP first, TCP too if UDP stays
    /// silent, as the server allows). When granted, the agent gets it as a candidate and reports it
    /// (<see cref="IceEvent.CandidateGathered"/>); <see cref="RelayChanged"/> tells whether it worked.
    /// </summary>
    public Task StartRelayAsync(RelayServer server) => InvokeAsync((_, now) =>
    {
        if (_relayServer is not null)
        {
            return;
        }
        _relayServer = server;
        StartAllocating(now);
    });

    /// <summary>One round of allocating: UDP first, TCP too if UDP stays silent (or TCP alone). Attempts of an earlier round are dropped.</summary>
    private void StartAllocating(TimeSpan now)
    {
        foreach (RelayConnection old in _relayAttempts)
        {
            _ = old.DisposeAsync().AsTask();
        }
        _relayAttempts.Clear();
        RelayServer server = _relayServer!;
        if (server.Udp)
        {
            StartRelayAttempt(TurnServerTransport.Udp, now);
        }
        if (server.Tcp)
        {
            if (server.Udp)
            {
                _tcpRelayDueAt = now + server.TcpAfter;
            }
            else
            {
                StartRelayAttempt(TurnServerTransport.Tcp, now);
            }
        }
    }

    /// <summary>
    /// The relay was granted (again, after a loss), or could not be had (every transport refused or
    /// unanswered), or was lost later (and is being allocated again). Raised on the link's loop:
    /// handlers must be quick and must not call back into the link.
    /// </summary>
    public event Action<RelayStatus>? RelayChanged;

    /// <summary>Why the relay cannot be used, once that is known.</summary>
    public string? RelayFailure { get; private set; }

    /// <summary>The relay in use: its transport to the server, once an allocation was granted.</summary>
    public TurnServerTransport? RelayTransport => _relay?.Transport;

    private TimeSpan? RelayWakeUp
    {
        get
        {
            TimeSpan? next = WakeUpTime.Earliest(_tcpRelayDueAt, RelayRecoveryWakeUp);
            foreach (RelayConnection attempt in _relayAttempts)
            {
                next = WakeUpTime.Earliest(next, attempt.Core.NextWakeUp);
                if (attempt.Core.State == TurnClientState.Allocating && attempt.FailureReason is null)
                {
                    next = WakeUpTime.Earliest(next, attempt.StartedAt + _relayServer!.AllocateTimeout);
                }
            }
            return next;
        }
    }

    private void StartRelayAttempt(TurnServerTransport transport, TimeSpan now)
    {
        var attempt = new RelayConnection(_relayServer!, transport, _socket) { StartedAt = now };
        _relayAttempts.Add(attempt);
        attempt.Core.OperationCompleted += result => RelayOperationCompleted(attempt, result);
        if (transport == TurnServerTransport.Udp)
        {
            _udpRelay = attempt;
            _udpRelayServer = attempt.Server;
            attempt.Core.Allocate(now);
            attempt.Flush(now);
            return;
        }
        _ = ConnectTcpAsync(attempt);
    }

    private async Task ConnectTcpAsync(RelayConnection attempt)
    {
        try
        {
            await attempt.ConnectAsync(
                message => FromRelayServer(message, attempt),
                reason => _commands.Writer.TryWrite(() => RelayAttemptFailed(attempt, reason)),
                _relayServer!.AllocateTimeout, _time).ConfigureAwait(false);
            _commands.Writer.TryWrite(() =>
            {
                if (attempt.Core.State == TurnClientState.Idle && attempt.FailureReason is null)
                {
                    attempt.Core.Allocate(Now);
                    attempt.Flush(Now);
                }
            });
        }
        catch (System.Net.Sockets.SocketException e)
        {
            _commands.Writer.TryWrite(() => RelayAttemptFailed(attempt, e.Message));
        }
    }

    private void HandleRelayTimeouts(TimeSpan now)
    {
        HandleRelayRecoveryTimeouts(now);
        if (_tcpRelayDueAt is { } due && now >= due)
        {
            _tcpRelayDueAt = null;
            // UDP that got any answer works; it is only slow (loss), and TCP would win the race for the
            // wrong reason. TCP is for when the server is not heard at all.
            if (_relay is null && _udpRelay is not { Heard: true })
            {
                StartRelayAttempt(TurnServerTransport.Tcp, now);
            }
        }
        foreach (RelayConnection attempt in _relayAttempts.ToList())
        {
            if (attempt.Core.NextWakeUp is { } wake && now >= wake)
            {
                attempt.Core.HandleTimeout(now);
            }
            if (attempt.Core.State == TurnClientState.Allocating && attempt.FailureReason is null
                && now >= attempt.StartedAt + _relayServer!.AllocateTimeout)
            {
                RelayAttemptFailed(attempt, $"no answer from the TURN server {attempt.Server} over {Name(attempt.Transport)} within {_relayServer.AllocateTimeout.TotalSeconds:0} s");
            }
            CheckRelayState(attempt);
            attempt.Flush(now);
        }
    }

    private void FlushRelays(TimeSpan now)
    {
        foreach (RelayConnection attempt in _relayAttempts)
        {
            CheckRelayState(attempt);
            attempt.Flush(now);
        }
    }

    /// <summary>The first allocation granted becomes the relay; the other attempt is closed. A lost or refused one is reported.</summary>
    private void CheckRelayState(RelayConnection attempt)
    {
        switch (attempt.Core.State)
        {
            case TurnClientState.Allocated when _relay is null && attempt.FailureReason is null:
                _relay = attempt;
                _tcpRelayDueAt = null;
                attempt.LastHeardAt = Now;
                RelayGranted();
                OfferRelayTo(_agent);
                RelayChanged?.Invoke(new RelayStatus.Ready(attempt.Core.Allocation!.RelayedAddress, attempt.Server, attempt.Transport));
                foreach (RelayConnection other in _relayAttempts)
                {
                    if (other != attempt && other.FailureReason is null)
                    {
                        other.FailureReason = "another transport was faster";
                        other.Core.Close(Now);
                    }
                }
                break;
            case TurnClientState.Failed when attempt.FailureReason is null:
                RelayAttemptFailed(attempt, Describe(attempt.Core.Error));
                break;
        }
    }

    private void RelayAttemptFailed(RelayConnection attempt, string reason)
    {
        if (attempt.FailureReason is not null)
        {
            return;
        }
        attempt.FailureReason = reason;
        if (attempt == _relay)
        {
            RelayLost(attempt, reason);
            return;
        }
        if (attempt.Core.State is TurnClientState.Allocating or TurnClientState.Idle)
        {
            attempt.Core.Close(Now);
        }
        if (attempt.Transport == TurnServerTransport.Udp && !attempt.Heard && _relay is null && _relayServer!.Tcp
            && !_relayAttempts.Exists(a => a.Transport == TurnServerTransport.Tcp))
        {
            _tcpRelayDueAt = null;
            StartRelayAttempt(TurnServerTransport.Tcp, Now); // UDP never answered: TCP may still get through
        }
        bool othersLeft = _relay is not null || _tcpRelayDueAt is not null || _relayAttempts.Exists(a => a.FailureReason is null);
        if (!othersLeft && _recovery.Reallocating)
        {
            ReallocateLater(Now);
        }
        else if (!othersLeft && !_relayFailureReported)
        {
            _relayFailureReported = true;
            // A refusal says more than a timeout of the other transport.
            string why = _relayAttempts.Select(a => a.FailureReason!).OrderBy(r => r.StartsWith("no answer", StringComparison.Ordinal) ? 1 : 0).First();
            RelayFailure = why;
            RelayChanged?.Invoke(new RelayStatus.Failed(why));
        }
    }

    private static string Describe(TurnError? error) => error?.Message ?? "the TURN allocation failed";

    private static string Name(TurnServerTransport transport) => transport == TurnServerTransport.Tcp ? "TCP" : "UDP";

    private void OfferRelayTo(IceAgent agent)
    {
        if (_relay?.Core.Allocation is { } allocation && _relay.Core.State == TurnClientState.Allocated)
        {
            agent.AddRelayedCandidate(allocation.RelayedAddress, allocation.MappedAddress);
        }
    }

    /// <summary>A datagram from the agent's relayed candidate: a permission for the peer's IP first (asked once), then a Send indication or ChannelData.</summary>
    private void SendViaRelay(IPEndPoint peer, ReadOnlySpan<byte> payload, TimeSpan now)
    {
        if (_relay is not { Core.State: TurnClientState.Allocated } relay)
        {
            return;
        }
        if (_permissionsAsked.Add(peer.Address))
        {
            relay.Core.CreatePermission(peer.Address, now);
        }
        relay.Core.Send(peer, payload, now);
    }

    /// <summary>Once the channel to the selected peer is bound, data goes as ChannelData straight from the sender's thread.</summary>
    private void RelayOperationCompleted(RelayConnection attempt, TurnOperationResult result)
    {
        if (result is { Operation: TurnOperation.Refresh, Succeeded: true } && attempt == _relay)
        {
            RelayConfirmed();
        }
        if (result is { Operation: TurnOperation.ChannelBind, Succeeded: true, Peer: { } peer })
        {
            if (_dataTarget is { } target && target.Relay == attempt && target.EndPoint.Equals(peer))
            {
                _dataTarget = target with { Channel = result.Channel };
            }
            if (_pendingTarget is { } pending && pending.Relay == attempt && pending.EndPoint.Equals(peer))
            {
                _pendingTarget = pending with { Channel = result.Channel };
            }
        }
    }

    /// <summary>TURN traffic from the UDP relay's server: ChannelData, or STUN other than Binding (whose answers are the agent's).</summary>
    private static bool IsForRelay(ReadOnlySpan<byte> datagram)
    {
        if (ChannelData.LooksLikeChannelData(datagram, legacyRange: true))
        {
            return true;
        }
        if (!IceAgent.IsStun(datagram))
        {
            return false;
        }
        int type = BinaryPrimitives.ReadUInt16BigEndian(datagram);
        int method = (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2);
        return method != (int)StunMethod.Binding;
    }

    /// <summary>
    /// A message from a TURN server (receive loop or TCP reader thread). Session frames in ChannelData
    /// on the selected path's channel are delivered at once; anything else goes to the allocation's core
    /// on the loop, among it the STUN that shares that channel once it is bound (consent checks of
    /// RFC 7675 and their answers, upgrade checks), which <see cref="DrainRelayReceived"/> hands to the agent.
    /// </summary>
    private void FromRelayServer(ReadOnlySpan<byte> message, RelayConnection? relay)
    {
        if (relay is null)
        {
            return;
        }
        relay.LastHeardAt = Now;
        if (message.Length >= ChannelData.HeaderLength && ChannelData.LooksLikeChannelData(message, legacyRange: true))
        {
            ushort channel = BinaryPrimitives.ReadUInt16BigEndian(message);
            int length = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
            if (DataChannelPeer(relay, channel) is { } peer && ChannelData.HeaderLength + length <= message.Length)
            {
                ReadOnlySpan<byte> payload = message.Slice(ChannelData.HeaderLength, length);
                if (IsSessionDatagram(payload))
                {
                    OnSessionDatagram(payload, peer, relay);
                    return;
                }
                // Not a session frame: STUN for the agent (or stray), sorted out on the loop.
            }
        }
        byte[] copy = message.ToArray();
        _commands.Writer.TryWrite(() =>
        {
            relay.Heard = true;
            relay.Core.HandleDatagram(copy, relay.Server, Now);
            DrainRelayReceived(relay);
        });
    }

    /// <summary>The peer of a bound channel of the current, pending or previous path through <paramref name="relay"/>.</summary>
    private IPEndPoint? DataChannelPeer(RelayConnection relay, ushort channel)
    {
        if (channel == 0)
        {
            return null;
        }
        // Three reads, no array: this runs for every relayed datagram.
        return Peer(_dataTarget) ?? Peer(_pendingTarget) ?? Peer(_previousTarget);

        IPEndPoint? Peer(DataTarget? target) => target is not null && target.Relay == relay && target.Channel == channel ? target.EndPoint : null;
    }

    /// <summary>What peers sent to our relayed address: session frames up to the stream, STUN to the agent.</summary>
    private void DrainRelayReceived(RelayConnection relay)
    {
        while (relay.Core.TryPollReceived(out TurnDatagram received))
        {
            ReadOnlySpan<byte> payload = received.Payload.Span;
            IPEndPoint peer = Candidate.Normalize(received.Peer);
            if (IsSessionDatagram(payload))
            {
                OnSessionDatagram(payload, peer, relay);
            }
            else if (relay == _relay && IceAgent.IsStun(payload))
            {
                _agent.HandleRelayedDatagram(payload, peer, Now);
            }
            else
            {
                Interlocked.Increment(ref _strayDatagrams);
            }
        }
        CheckRelayState(relay);
    }

    /// <summary>Deletes the allocation (Refresh with lifetime 0) so the server frees it now rather than at expiry.</summary>
    private async Task CloseRelaysAsync()
    {
        try
        {
            await InvokeAsync((_, now) =>
            {
                foreach (RelayConnection attempt in _relayAttempts)
                {
                    attempt.Core.Close(now);
                    attempt.Flush(now);
                }
            }).WaitAsync(TimeSpan.FromSeconds(1), _time).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectDisposedException or TimeoutException)
        {
        }
    }
}
