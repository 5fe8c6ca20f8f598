using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

namespace NatPunch.Server.Turn;

public sealed partial class TurnCore
{
    /// <summary>RFC 8656 §8.2: a new lifetime, or with LIFETIME 0 the end of the allocation.</summary>
    private void HandleRefresh(TurnClient client, StunMessage request, TurnAllocation allocation, byte[]? key)
    {
        TimeSpan lifetime = GrantedLifetime(request, zeroDeletes: true);
        if (lifetime == TimeSpan.Zero)
        {
            Delete(allocation);
        }
        else
        {
            allocation.Expiry = _now + lifetime;
        }
        StunMessageBuilder builder = Begin(request, StunClass.SuccessResponse);
        builder.AddUInt32(StunAttributeType.Lifetime, (uint)lifetime.TotalSeconds);
        Finish(ref builder, client, key, request.HasFingerprint);
    }

    /// <summary>RFC 8656 §10.2: every XOR-PEER-ADDRESS must be acceptable, then all are installed (or refreshed).</summary>
    private void HandleCreatePermission(TurnClient client, StunMessage request, TurnAllocation allocation, byte[]? key)
    {
        var peers = new List<IPAddress>(2);
        ReadOnlySpan<byte> xorKey = request.Buffer.Slice(4, 16);
        foreach (StunAttribute attribute in request.Attributes)
        {
            if (attribute.Type != StunAttributeType.XorPeerAddress)
            {
                continue;
            }
            if (!StunAddressCodec.TryReadXor(attribute.Value, xorKey, out IPEndPoint peer))
            {
                SendError(client, request, StunErrorCode.BadRequest, key, "Malformed XOR-PEER-ADDRESS");
                return;
            }
            if (!CheckPeer(client, request, allocation, key, peer))
            {
                return;
            }
            peers.Add(TurnClient.Normalize(peer).Address);
        }
        if (peers.Count == 0)
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "XOR-PEER-ADDRESS missing");
            return;
        }
        if (!RoomForPermissions(allocation, peers, client, request, key))
        {
            return;
        }
        foreach (IPAddress peer in peers)
        {
            allocation.InstallPermission(peer, _now + _options.PermissionLifetime);
        }
        StunMessageBuilder builder = Begin(request, StunClass.SuccessResponse);
        Finish(ref builder, client, key, request.HasFingerprint);
    }

    /// <summary>
    /// RFC 8656 §11.2: a channel number in 0x4000–0x4FFF (or up to 0x7FFF as RFC 5766 and coturn allow); a channel is bound to one peer and a peer
    /// to one channel for the binding's life and the 5 minutes after; rebinding the same pair refreshes
    /// it. A binding installs or refreshes the permission of the peer's IP.
    /// </summary>
    private void HandleChannelBind(TurnClient client, StunMessage request, TurnAllocation allocation, byte[]? key)
    {
        if (!request.TryGetAttribute(StunAttributeType.ChannelNumber, out ReadOnlySpan<byte> number) || number.Length != 4)
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "CHANNEL-NUMBER missing or malformed");
            return;
        }
        ushort channel = (ushort)((number[0] << 8) | number[1]);
        if (!ChannelData.IsValidChannel(channel, legacyRange: true))
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "Channel number out of range");
            return;
        }
        if (!request.TryGetXorAddress(StunAttributeType.XorPeerAddress, out IPEndPoint rawPeer))
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "XOR-PEER-ADDRESS missing or malformed");
            return;
        }
        if (!CheckPeer(client, request, allocation, key, rawPeer))
        {
            return;
        }
        IPEndPoint peer = TurnClient.Normalize(rawPeer);
        if (IsServiceEndPoint(allocation, peer))
        {
            SendError(client, request, StunErrorCode.Forbidden, key, "Peer is this server's own STUN/TURN port");
            return;
        }
        if (allocation.FindChannel(channel) is { } byNumber && !byNumber.Peer.Equals(peer))
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "Channel bound to another peer");
            return;
        }
        if (allocation.FindChannel(peer) is { } byPeer && byPeer.Channel != channel)
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "Peer bound to another channel");
            return;
        }
        if (!RoomForPermissions(allocation, [TurnClient.Normalize(peer).Address], client, request, key))
        {
            return;
        }
        allocation.Bind(channel, peer, _now + _options.ChannelLifetime);
        allocation.InstallPermission(peer.Address, _now + _options.PermissionLifetime);
        StunMessageBuilder builder = Begin(request, StunClass.SuccessResponse);
        Finish(ref builder, client, key, request.HasFingerprint);
    }

    /// <summary>
    /// Whether the allocation may hold permissions for <paramref name="peers"/> too (RFC 8656 §9.1
    /// lets a server refuse with 508); expired ones are dropped first. False when the error was sent.
    /// </summary>
    private bool RoomForPermissions(TurnAllocation allocation, IEnumerable<IPAddress> peers, TurnClient client, StunMessage request, byte[]? key)
    {
        if (_options.MaxPermissionsPerAllocation <= 0)
        {
            return true;
        }
        allocation.Prune(_now);
        int added = peers.Distinct().Count(peer => !allocation.HasPermission(peer, _now));
        if (allocation.PermissionCount + added <= _options.MaxPermissionsPerAllocation)
        {
            return true;
        }
        Counters.PermissionRefusals++;
        SendError(client, request, StunErrorCode.InsufficientCapacity, key, $"At most {_options.MaxPermissionsPerAllocation} permissions per allocation");
        return false;
    }

    /// <summary>The peer's family matches the relay's (else 443) and policy allows it (else 403); false when an error was sent.</summary>
    private bool CheckPeer(TurnClient client, StunMessage request, TurnAllocation allocation, byte[]? key, IPEndPoint peer)
    {
        IPAddress address = TurnClient.Normalize(peer).Address;
        if (address.AddressFamily != allocation.RelayedAddress.AddressFamily)
        {
            SendError(client, request, StunErrorCode.PeerAddressFamilyMismatch, key);
            return false;
        }
        if (!_peerPolicy.IsAllowed(address))
        {
            SendError(client, request, StunErrorCode.Forbidden, key, "Peer address not allowed");
            return false;
        }
        return true;
    }
}
