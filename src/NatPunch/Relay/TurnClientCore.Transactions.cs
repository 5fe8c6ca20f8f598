using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Stun;

namespace NatPunch.Relay;

public sealed partial class TurnClientCore
{
    /// <summary>Builds the request (signed once the realm and nonce are known), starts its transaction and queues the first send.</summary>
    private void Start(PendingRequest request, TimeSpan now)
    {
        byte[] buffer = new byte[512];
        var builder = new StunMessageBuilder(buffer, new StunMessageType(MethodOf(request.Operation), StunClass.Request), TransactionId.NewRandom());
        switch (request.Operation)
        {
            case TurnOperation.Allocate:
                builder.AddUInt32(StunAttributeType.RequestedTransport, (uint)TurnTransport.Udp << 24);
                if (_options.RequestedAddressFamily is { } family)
                {
                    builder.AddBytes(StunAttributeType.RequestedAddressFamily, [family, 0, 0, 0]);
                }
                if (request.Lifetime is { } allocateLifetime)
                {
                    builder.AddUInt32(StunAttributeType.Lifetime, allocateLifetime);
                }
                break;
            case TurnOperation.Refresh or TurnOperation.Close:
                if (request.Lifetime is { } lifetime)
                {
                    builder.AddUInt32(StunAttributeType.Lifetime, lifetime);
                }
                break;
            case TurnOperation.CreatePermission:
                builder.AddXorAddress(StunAttributeType.XorPeerAddress, request.Peer!);
                break;
            case TurnOperation.ChannelBind:
                builder.AddUInt32(StunAttributeType.ChannelNumber, (uint)request.Channel << 16);
                builder.AddXorAddress(StunAttributeType.XorPeerAddress, request.Peer!);
                break;
        }
        request.Signed = _key is not null;
        if (_key is not null)
        {
            builder.AddString(StunAttributeType.Username, Credentials.Username);
            builder.AddString(StunAttributeType.Realm, _realm!);
            builder.AddString(StunAttributeType.Nonce, _nonce!);
            builder.AddMessageIntegrity(_key);
        }
        builder.AddFingerprint();
        request.Transaction = new StunClientTransaction(builder.Written.ToArray(), _options.Retransmission, _options.Reliable);
        _pending[request.Transaction.Id] = request;
        StunTransactionStep step = request.Transaction.Poll(now);
        _transmit.Enqueue(new OutgoingDatagram(Server, step.Datagram));
    }

    private static StunMethod MethodOf(TurnOperation operation) => operation switch
    {
        TurnOperation.Allocate => StunMethod.Allocate,
        TurnOperation.Refresh or TurnOperation.Close => StunMethod.Refresh,
        TurnOperation.CreatePermission => StunMethod.CreatePermission,
        _ => StunMethod.ChannelBind,
    };

    /// <inheritdoc />
    public void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now)
    {
        if (!from.Equals(Server) && !IPv4Mapping.Unmap(from).Equals(IPv4Mapping.Unmap(Server)))
        {
            IgnoredDatagrams++;
            return;
        }
        if (ChannelData.LooksLikeChannelData(datagram, legacyRange: true))
        {
            if (ChannelData.TryParse(datagram, out ChannelData data, legacyRange: true)
                && _channelsByNumber.TryGetValue(data.Channel, out ChannelEntry? channel))
            {
                _received.Enqueue(new TurnDatagram(channel.Peer, data.Data.ToArray(), ViaChannel: true));
            }
            else
            {
                IgnoredDatagrams++;
            }
            return;
        }
        if (!StunMessage.TryParse(datagram, out StunMessage message, out _) || !message.HasMagicCookie)
        {
            IgnoredDatagrams++;
            return;
        }
        StunMessageType type = message.Type;
        if (type.Class == StunClass.Indication)
        {
            if (type.Method == StunMethod.Data
                && message.TryGetXorAddress(StunAttributeType.XorPeerAddress, out IPEndPoint peer)
                && message.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> payload))
            {
                _received.Enqueue(new TurnDatagram(peer, payload.ToArray(), ViaChannel: false));
            }
            else
            {
                IgnoredDatagrams++;
            }
            return;
        }
        if (!_pending.TryGetValue(message.TransactionId, out PendingRequest? request))
        {
            IgnoredDatagrams++;
            return;
        }
        // RFC 8489 §9.2.5: a response carrying MESSAGE-INTEGRITY that does not verify is discarded.
        if (_key is not null && message.IntegrityOffset >= 0 && !message.VerifyMessageIntegrity(_key))
        {
            IgnoredDatagrams++;
            return;
        }
        if (!request.Transaction.TryHandleResponse(datagram, from, now))
        {
            IgnoredDatagrams++;
            return;
        }
        _pending.Remove(request.Transaction.Id);
        if (type.Class == StunClass.SuccessResponse)
        {
            Succeed(request, message, now);
        }
        else
        {
            HandleError(request, message, now);
        }
    }

    private void Succeed(PendingRequest request, StunMessage message, TimeSpan now)
    {
        switch (request.Operation)
        {
            case TurnOperation.Allocate:
                if (!message.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out IPEndPoint relayed))
                {
                    Fail(request, TurnError.Malformed(request.Operation, "the Allocate response has no XOR-RELAYED-ADDRESS"), now);
                    return;
                }
                message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint mapped);
                TimeSpan lifetime = ReadLifetime(message);
                Allocation = new RelayAllocation(relayed, mapped, lifetime);
                ScheduleRefresh(lifetime, now);
                SetState(TurnClientState.Allocated);
                Allocated?.Invoke(Allocation);
                break;
            case TurnOperation.Refresh:
                TimeSpan granted = ReadLifetime(message);
                Allocation = Allocation! with { Lifetime = granted };
                if (State == TurnClientState.Allocated)
                {
                    ScheduleRefresh(granted, now);
                }
                break;
            case TurnOperation.Close:
                SetState(TurnClientState.Closed);
                break;
            case TurnOperation.CreatePermission:
                if (_permissions.TryGetValue(request.Peer!.Address, out PermissionEntry? permission))
                {
                    permission.Installed = true;
                    permission.Pending = false;
                    permission.RefreshAt = now + _options.PermissionRefreshInterval;
                }
                break;
            case TurnOperation.ChannelBind:
                if (_channelsByPeer.TryGetValue(request.Peer!, out ChannelEntry? channel))
                {
                    channel.Bound = true;
                    channel.Pending = false;
                    channel.RefreshAt = now + _options.ChannelRefreshInterval;
                }
                // RFC 8656 §12.2: ChannelBind installs or refreshes the peer's permission, which lasts
                // only 300 s, so from now on it is refreshed with the other permissions.
                if (!_permissions.TryGetValue(request.Peer!.Address, out PermissionEntry? implied))
                {
                    implied = new PermissionEntry();
                    _permissions[request.Peer!.Address] = implied;
                }
                if (!implied.Pending)
                {
                    implied.Installed = true;
                    implied.RefreshAt = now + _options.PermissionRefreshInterval;
                }
                break;
        }
        OperationCompleted?.Invoke(new TurnOperationResult(request.Operation, request.Peer, request.Channel, null, request.IsAutomatic));
    }

    private TimeSpan ReadLifetime(StunMessage message) =>
        message.TryGetUInt32(StunAttributeType.Lifetime, out uint seconds)
            ? TimeSpan.FromSeconds(seconds)
            : _options.RequestedLifetime ?? TimeSpan.FromMinutes(10);

    private void ScheduleRefresh(TimeSpan lifetime, TimeSpan now)
    {
        _expiresAt = now + lifetime;
        _refreshAt = now + lifetime * _options.RefreshFraction;
    }

    /// <summary>401 and 438 are retried with the server's realm and nonce (RFC 8489 §9.2.5); anything else fails the request.</summary>
    private void HandleError(PendingRequest request, StunMessage message, TimeSpan now)
    {
        message.TryGetErrorCode(out int code, out string reason);
        bool hasNonce = message.TryGetString(StunAttributeType.Nonce, out string nonce);
        bool hasRealm = message.TryGetString(StunAttributeType.Realm, out string realm);
        if (code == StunErrorCode.Unauthorized && !request.Signed && hasNonce && hasRealm)
        {
            _realm = realm;
            _nonce = nonce;
            _key = StunCredentials.LongTermKey(Credentials.Username, realm, Credentials.Password);
            Restart(request, now);
            return;
        }
        if (code == StunErrorCode.StaleNonce && hasNonce && request.StaleNonceRetries < _options.MaxStaleNonceRetries)
        {
            _nonce = nonce;
            if (hasRealm && realm != _realm)
            {
                _realm = realm;
                _key = StunCredentials.LongTermKey(Credentials.Username, realm, Credentials.Password);
            }
            request.StaleNonceRetries++;
            Restart(request, now);
            return;
        }
        if (code == StunErrorCode.Unauthorized && hasNonce)
        {
            // Remember the fresh nonce for later requests; this one failed on the credentials themselves.
            _nonce = nonce;
        }
        Fail(request, TurnError.FromCode(code, reason, request.Operation), now);
    }

    private void Restart(PendingRequest request, TimeSpan now) =>
        Start(new PendingRequest(request.Operation)
        {
            Peer = request.Peer,
            Channel = request.Channel,
            Lifetime = request.Lifetime,
            IsAutomatic = request.IsAutomatic,
            StaleNonceRetries = request.StaleNonceRetries,
        }, now);

    private void Fail(PendingRequest request, TurnError error, TimeSpan now)
    {
        // RFC 8656 §7: 437 to any request on the allocation means the server has none for this 5-tuple.
        if (error.Kind == TurnErrorKind.AllocationMismatch && request.Operation is TurnOperation.CreatePermission or TurnOperation.ChannelBind
            && State == TurnClientState.Allocated)
        {
            LoseAllocation(error);
        }
        switch (request.Operation)
        {
            case TurnOperation.Allocate:
                Error = error;
                SetState(TurnClientState.Failed);
                break;
            case TurnOperation.Refresh:
                // RFC 8656 §8: 437 means the allocation is gone; other failures are retried until it expires.
                if (error.Kind is TurnErrorKind.AllocationMismatch or TurnErrorKind.WrongCredentials)
                {
                    LoseAllocation(error);
                }
                else if (State == TurnClientState.Allocated)
                {
                    _refreshAt = now + (_expiresAt - now) / 2;
                }
                break;
            case TurnOperation.Close:
                SetState(TurnClientState.Closed);
                break;
            case TurnOperation.CreatePermission:
                if (_permissions.TryGetValue(request.Peer!.Address, out PermissionEntry? permission))
                {
                    permission.Pending = false;
                    if (!permission.Installed || !request.IsAutomatic)
                    {
                        _permissions.Remove(request.Peer!.Address);
                    }
                    else
                    {
                        permission.RefreshAt = now + (_options.PermissionRefreshInterval / 8);
                    }
                }
                break;
            case TurnOperation.ChannelBind:
                if (_channelsByPeer.TryGetValue(request.Peer!, out ChannelEntry? channel))
                {
                    channel.Pending = false;
                    if (!channel.Bound || !request.IsAutomatic)
                    {
                        _channelsByPeer.Remove(channel.Peer);
                        _channelsByNumber.Remove(channel.Number);
                    }
                    else
                    {
                        channel.RefreshAt = now + (_options.ChannelRefreshInterval / 18);
                    }
                }
                break;
        }
        OperationCompleted?.Invoke(new TurnOperationResult(request.Operation, request.Peer, request.Channel, error, request.IsAutomatic));
    }

    private void LoseAllocation(TurnError error)
    {
        Error = error;
        _pending.Clear();
        SetState(TurnClientState.Failed);
    }
}
