using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Stun;

namespace NatPunch.Relay;

/// <summary>
/// A TURN client (RFC 8656) without I/O: one allocation on one server. It authenticates with
/// long-term credentials (RFC 8489 §9.2: the first Allocate is unsigned, the 401 gives REALM and
/// NONCE, 438 gives a new NONCE), refreshes the allocation, its permissions and its channels before
/// they expire, wraps data for peers as ChannelData or Send indications and unwraps what the server
/// relays back. Calling contract as <see cref="IDatagramCore"/>: after any call, drain
/// <see cref="TryPollTransmit"/> (to the server) and <see cref="TryPollReceived"/>, then honour
/// <see cref="NextWakeUp"/>. Not thread-safe: one loop owns it.
/// </summary>
public sealed partial class TurnClientCore : IDatagramCore
{
    private readonly TurnClientOptions _options;
    private readonly Queue<OutgoingDatagram> _transmit = new();
    private readonly Queue<TurnDatagram> _received = new();
    private readonly Dictionary<TransactionId, PendingRequest> _pending = [];
    private readonly Dictionary<IPAddress, PermissionEntry> _permissions = [];
    private readonly Dictionary<IPEndPoint, ChannelEntry> _channelsByPeer = [];
    private readonly Dictionary<ushort, ChannelEntry> _channelsByNumber = [];
    private string? _realm;
    private string? _nonce;
    private byte[]? _key;
    private TimeSpan? _refreshAt;
    private TimeSpan _expiresAt;
    private ushort _nextChannel;

    /// <summary>Creates a client for <paramref name="server"/>; nothing is sent until <see cref="Allocate"/>.</summary>
    public TurnClientCore(IPEndPoint server, TurnCredentials credentials, TurnClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(credentials);
        _options = options ?? TurnClientOptions.Default;
        _options.Retransmission.Validate();
        if (!ChannelData.IsValidChannel(_options.FirstChannel))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "FirstChannel must be 0x4000-0x4FFF.");
        }
        Server = server;
        Credentials = credentials;
        _nextChannel = _options.FirstChannel;
    }

    /// <summary>The TURN server.</summary>
    public IPEndPoint Server { get; }

    /// <summary>The credentials.</summary>
    public TurnCredentials Credentials { get; }

    /// <summary>Where the allocation is.</summary>
    public TurnClientState State { get; private set; }

    /// <summary>What the server granted, once <see cref="TurnClientState.Allocated"/>.</summary>
    public RelayAllocation? Allocation { get; private set; }

    /// <summary>Why the client is <see cref="TurnClientState.Failed"/>.</summary>
    public TurnError? Error { get; private set; }

    /// <summary>The realm the server named in its 401, once known.</summary>
    public string? Realm => _realm;

    /// <summary>Datagrams from the server that were neither a known response, a Data indication nor ChannelData on a bound channel.</summary>
    public long IgnoredDatagrams { get; private set; }

    /// <summary>The allocation was granted (also raised through <see cref="OperationCompleted"/>).</summary>
    public event Action<RelayAllocation>? Allocated;

    /// <summary>Any request finished, successfully or not, including the core's own refreshes.</summary>
    public event Action<TurnOperationResult>? OperationCompleted;

    /// <summary>The state changed; a transition to <see cref="TurnClientState.Failed"/> comes with <see cref="Error"/> set.</summary>
    public event Action<TurnClientState>? StateChanged;

    /// <inheritdoc />
    public TimeSpan? NextWakeUp
    {
        get
        {
            TimeSpan? next = null;
            foreach (PendingRequest request in _pending.Values)
            {
                next = WakeUpTime.Earliest(next, request.Transaction.NextWakeUp);
            }
            if (State == TurnClientState.Allocated)
            {
                next = WakeUpTime.Earliest(next, _refreshAt);
                next = WakeUpTime.Earliest(next, _expiresAt);
                foreach (PermissionEntry permission in _permissions.Values)
                {
                    next = WakeUpTime.Earliest(next, permission.RefreshAt);
                }
                foreach (ChannelEntry channel in _channelsByPeer.Values)
                {
                    next = WakeUpTime.Earliest(next, channel.RefreshAt);
                }
            }
            return next;
        }
    }

    /// <summary>Peer IPs with an installed permission.</summary>
    public IEnumerable<IPAddress> Permissions => _permissions.Where(p => p.Value.Installed).Select(p => p.Key);

    /// <summary>The channel bound to <paramref name="peer"/>, if one is.</summary>
    public bool TryGetChannel(IPEndPoint peer, out ushort channel)
    {
        if (_channelsByPeer.TryGetValue(peer, out ChannelEntry? entry) && entry.Bound)
        {
            channel = entry.Number;
            return true;
        }
        channel = 0;
        return false;
    }

    /// <summary>Sends Allocate (RFC 8656 §7.1). Only from <see cref="TurnClientState.Idle"/>.</summary>
    public void Allocate(TimeSpan now)
    {
        if (State != TurnClientState.Idle)
        {
            throw new InvalidOperationException($"Allocate needs an idle client; it is {State}.");
        }
        SetState(TurnClientState.Allocating);
        Start(new PendingRequest(TurnOperation.Allocate) { Lifetime = RequestedLifetimeSeconds }, now);
    }

    /// <summary>Sends CreatePermission for <paramref name="peer"/> (RFC 8656 §9); it is then refreshed until <see cref="Close"/>.</summary>
    public void CreatePermission(IPAddress peer, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        RequireAllocated();
        if (!_permissions.TryGetValue(peer, out PermissionEntry? entry))
        {
            entry = new PermissionEntry();
            _permissions[peer] = entry;
        }
        if (entry.Pending)
        {
            return;
        }
        entry.Pending = true;
        entry.RefreshAt = null;
        Start(new PendingRequest(TurnOperation.CreatePermission) { Peer = new IPEndPoint(peer, 0) }, now);
    }

    /// <summary>
    /// Binds a channel to <paramref name="peer"/> (RFC 8656 §12.1), reusing the peer's number if it
    /// has one, and returns the number. The binding (and the peer's permission, which ChannelBind
    /// also installs) is refreshed until <see cref="Close"/>. Until it is confirmed, data goes as Send indications.
    /// </summary>
    public ushort BindChannel(IPEndPoint peer, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        RequireAllocated();
        if (!_channelsByPeer.TryGetValue(peer, out ChannelEntry? entry))
        {
            entry = new ChannelEntry(peer, AllocateChannelNumber());
            _channelsByPeer[peer] = entry;
            _channelsByNumber[entry.Number] = entry;
        }
        if (!entry.Pending)
        {
            entry.Pending = true;
            entry.RefreshAt = null;
            Start(new PendingRequest(TurnOperation.ChannelBind) { Peer = peer, Channel = entry.Number }, now);
        }
        return entry.Number;
    }

    /// <summary>
    /// Queues <paramref name="payload"/> for <paramref name="peer"/>: as ChannelData when a channel is
    /// bound (RFC 8656 §12.4), else as a Send indication (RFC 8656 §10.1). The server drops it unless
    /// the peer's IP has a permission.
    /// </summary>
    public void Send(IPEndPoint peer, ReadOnlySpan<byte> payload, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        RequireAllocated();
        if (payload.Length > ushort.MaxValue - 64)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), "Too large for one TURN message.");
        }
        if (_channelsByPeer.TryGetValue(peer, out ChannelEntry? channel) && channel.Bound)
        {
            byte[] buffer = new byte[ChannelData.HeaderLength + payload.Length + 3];
            int length = ChannelData.Write(buffer, channel.Number, payload, _options.Reliable);
            _transmit.Enqueue(new OutgoingDatagram(Server, buffer.AsMemory(0, length)));
            return;
        }
        byte[] message = new byte[StunConstants.HeaderLength + 8 + 24 + payload.Length + 4];
        var builder = new StunMessageBuilder(message, new StunMessageType(StunMethod.Send, StunClass.Indication), TransactionId.NewRandom());
        builder.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        builder.AddBytes(StunAttributeType.Data, payload);
        _transmit.Enqueue(new OutgoingDatagram(Server, message.AsMemory(0, builder.Length)));
    }

    /// <summary>
    /// Refreshes the allocation now, out of schedule (RFC 8656 §8): asks a server that has been quiet
    /// whether it still holds the allocation (a restarted one answers 437, and the allocation is lost).
    /// Nothing is sent while a refresh is already pending.
    /// </summary>
    public void RefreshNow(TimeSpan now)
    {
        RequireAllocated();
        if (_pending.Values.Any(p => p.Operation == TurnOperation.Refresh))
        {
            return;
        }
        _refreshAt = null;
        Start(new PendingRequest(TurnOperation.Refresh) { Lifetime = RequestedLifetimeSeconds }, now);
    }

    /// <summary>Deletes the allocation: Refresh with LIFETIME 0 (RFC 8656 §8). <see cref="TurnClientState.Closed"/> on the answer or its timeout.</summary>
    public void Close(TimeSpan now)
    {
        switch (State)
        {
            case TurnClientState.Allocated:
                SetState(TurnClientState.Closing);
                Start(new PendingRequest(TurnOperation.Close) { Lifetime = 0 }, now);
                break;
            case TurnClientState.Closing or TurnClientState.Closed or TurnClientState.Failed:
                break;
            default:
                _pending.Clear();
                SetState(TurnClientState.Closed);
                break;
        }
    }

    /// <inheritdoc />
    public bool TryPollTransmit(TimeSpan now, out OutgoingDatagram datagram) => _transmit.TryDequeue(out datagram);

    /// <summary>The next datagram a peer sent through the relay, if any.</summary>
    public bool TryPollReceived(out TurnDatagram datagram) => _received.TryDequeue(out datagram);

    /// <inheritdoc />
    public void HandleTimeout(TimeSpan now)
    {
        foreach (PendingRequest request in _pending.Values.ToArray())
        {
            StunTransactionStep step = request.Transaction.Poll(now);
            if (step.ShouldSend)
            {
                _transmit.Enqueue(new OutgoingDatagram(Server, step.Datagram));
            }
            else if (step.State == StunTransactionState.TimedOut)
            {
                _pending.Remove(request.Transaction.Id);
                Fail(request, TurnError.TimedOut(request.Operation, request.Transaction.SendCount), now);
            }
        }
        if (State != TurnClientState.Allocated)
        {
            return;
        }
        if (now >= _expiresAt)
        {
            LoseAllocation(new TurnError(TurnErrorKind.Timeout, 0, "The allocation expired without a successful refresh."));
            return;
        }
        if (_refreshAt is { } refreshAt && now >= refreshAt)
        {
            _refreshAt = null;
            Start(new PendingRequest(TurnOperation.Refresh) { Lifetime = RequestedLifetimeSeconds, IsAutomatic = true }, now);
        }
        foreach ((IPAddress peer, PermissionEntry permission) in _permissions)
        {
            if (permission.RefreshAt is { } at && now >= at && !permission.Pending)
            {
                permission.Pending = true;
                permission.RefreshAt = null;
                Start(new PendingRequest(TurnOperation.CreatePermission) { Peer = new IPEndPoint(peer, 0), IsAutomatic = true }, now);
            }
        }
        foreach (ChannelEntry channel in _channelsByPeer.Values)
        {
            if (channel.RefreshAt is { } at && now >= at && !channel.Pending)
            {
                channel.Pending = true;
                channel.RefreshAt = null;
                Start(new PendingRequest(TurnOperation.ChannelBind) { Peer = channel.Peer, Channel = channel.Number, IsAutomatic = true }, now);
            }
        }
    }

    private uint? RequestedLifetimeSeconds =>
        _options.RequestedLifetime is { } lifetime ? (uint)Math.Max(1, lifetime.TotalSeconds) : null;

    private void RequireAllocated()
    {
        if (State != TurnClientState.Allocated)
        {
            throw new InvalidOperationException($"The TURN allocation is {State}, not Allocated.");
        }
    }

    private ushort AllocateChannelNumber()
    {
        for (int i = 0; i <= ChannelData.MaxChannel - ChannelData.MinChannel; i++)
        {
            ushort candidate = _nextChannel;
            _nextChannel = candidate == ChannelData.MaxChannel ? ChannelData.MinChannel : (ushort)(candidate + 1);
            if (!_channelsByNumber.ContainsKey(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("All 4096 channel numbers are in use.");
    }

    private void SetState(TurnClientState state)
    {
        if (State != state)
        {
            State = state;
            StateChanged?.Invoke(state);
        }
    }

    private sealed class PermissionEntry
    {
        public bool Installed { get; set; }
        public bool Pending { get; set; }
        public TimeSpan? RefreshAt { get; set; }
    }

    private sealed class ChannelEntry(IPEndPoint peer, ushort number)
    {
        public IPEndPoint Peer { get; } = peer;
        public ushort Number { get; } = number;
        public bool Bound { get; set; }
        public bool Pending { get; set; }
        public TimeSpan? RefreshAt { get; set; }
    }

    private sealed class PendingRequest(TurnOperation operation)
    {
        public TurnOperation Operation { get; } = operation;
        public IPEndPoint? Peer { get; init; }
        public ushort Channel { get; init; }
        public uint? Lifetime { get; init; }
        public bool IsAutomatic { get; init; }
        public bool Signed { get; set; }
        public int StaleNonceRetries { get; set; }
        public StunClientTransaction Transaction { get; set; } = null!;
    }
}
