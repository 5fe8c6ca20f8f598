using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

namespace NatPunch.Server.Turn;

public sealed partial class TurnCore
{
    /// <summary>Send indication (RFC 8656 §11.2): to a peer with a permission; anything wrong is dropped silently.</summary>
    private void HandleSend(TurnClient client, StunMessage indication)
    {
        if (!_allocations.TryGetValue(client, out TurnAllocation? allocation)
            || !indication.TryGetXorAddress(StunAttributeType.XorPeerAddress, out IPEndPoint peer)
            || !indication.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> data))
        {
            Counters.Dropped++;
            return;
        }
        RelayToPeer(allocation, TurnClient.Normalize(peer), data);
    }

    /// <summary>ChannelData from a client (RFC 8656 §12.6): to the peer bound to the channel, if it is.</summary>
    private void HandleChannelData(TurnClient client, ReadOnlySpan<byte> message)
    {
        if (!_allocations.TryGetValue(client, out TurnAllocation? allocation)
            || !ChannelData.TryParse(message, out ChannelData channelData, legacyRange: true)
            || allocation.FindChannel(channelData.Channel) is not { } binding
            || _now >= binding.Expiry)
        {
            Counters.Dropped++;
            return;
        }
        RelayToPeer(allocation, binding.Peer, channelData.Data);
    }

    private void RelayToPeer(TurnAllocation allocation, IPEndPoint peer, ReadOnlySpan<byte> data)
    {
        if (!allocation.HasPermission(peer.Address, _now) || IsServiceEndPoint(allocation, peer))
        {
            Counters.Dropped++;
            return;
        }
        if (!allocation.TryConsume(data.Length, _now))
        {
            Counters.BandwidthDrops++;
            return;
        }
        allocation.Relay.SendTo(peer, data);
        Counters.ToPeers++;
        Counters.BytesToPeers += data.Length;
    }

    /// <summary>
    /// A datagram from a peer to a relayed address (RFC 8656 §11.3, §12.7): dropped without a
    /// permission; to the client as ChannelData when a channel is bound, else as a Data indication.
    /// </summary>
    public void HandleFromPeer(IRelaySocket relay, IPEndPoint peer, ReadOnlySpan<byte> data, DateTimeOffset now)
    {
        _now = now;
        peer = TurnClient.Normalize(peer);
        if (!_byRelay.TryGetValue(relay, out TurnAllocation? allocation)
            || now >= allocation.Expiry
            || !allocation.HasPermission(peer.Address, now)
            || data.Length > 65535 - 64)
        {
            Counters.Dropped++;
            return;
        }
        if (!allocation.TryConsume(data.Length, now))
        {
            Counters.BandwidthDrops++;
            return;
        }
        ushort channel = allocation.ActiveChannelFor(peer, now);
        if (channel != 0)
        {
            int length = ChannelData.Write(_output, channel, data, pad: allocation.Client.IsTcp);
            _environment.SendToClient(allocation.Client, _output.AsSpan(0, length));
        }
        else
        {
            var builder = new StunMessageBuilder(_output, new StunMessageType(StunMethod.Data, StunClass.Indication), TransactionId.NewRandom());
            builder.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            builder.AddBytes(StunAttributeType.Data, data);
            _environment.SendToClient(allocation.Client, builder.Written);
        }
        Counters.ToClients++;
        Counters.BytesToClients += data.Length;
    }
}
