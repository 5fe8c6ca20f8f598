using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Server.Internal;

namespace NatPunch.Server.Turn;

/// <summary>
/// One allocation (RFC 8656 §2.2): the 5-tuple it belongs to, its relayed socket, its lifetime,
/// permissions by peer IP and channel bindings. Owned by <see cref="TurnCore"/>; not thread-safe.
/// </summary>
public sealed class TurnAllocation
{
    /// <summary>After a channel binding expires its number and peer stay reserved this long (RFC 8656 §12).</summary>
    public static readonly TimeSpan ChannelCooldown = TimeSpan.FromMinutes(5);

    private readonly Dictionary<IPAddress, DateTimeOffset> _permissions = [];
    private readonly Dictionary<ushort, ChannelBinding> _channelsByNumber = [];
    private readonly Dictionary<IPEndPoint, ChannelBinding> _channelsByPeer = [];
    private readonly TokenBucket? _ownBandwidth;
    private readonly TokenBucket? _userBandwidth;
    private readonly TokenBucket? _sourceBandwidth;

    internal TurnAllocation(TurnClient client, IRelaySocket relay, string username, byte[]? key, DateTimeOffset expiry,
        TransactionId allocateTransaction, RelayBandwidth bandwidth)
    {
        (_ownBandwidth, _userBandwidth, _sourceBandwidth) = bandwidth;
        Client = client;
        Relay = relay;
        RelayedAddress = relay.LocalEndPoint;
        Username = username;
        Key = key;
        Expiry = expiry;
        AllocateTransaction = allocateTransaction;
    }

    public TurnClient Client { get; }

    public IRelaySocket Relay { get; }

    public IPEndPoint RelayedAddress { get; }

    /// <summary>The user that made it; later requests must come from the same user (441 otherwise).</summary>
    public string Username { get; }

    internal byte[]? Key { get; }

    public DateTimeOffset Expiry { get; internal set; }

    /// <summary>The Allocate request that made it: a retransmission gets the same answer, not 437.</summary>
    internal TransactionId AllocateTransaction { get; }

    internal byte[]? AllocateResponse { get; set; }

    public int PermissionCount => _permissions.Count;

    public int ChannelCount => _channelsByNumber.Count;

    public bool HasPermission(IPAddress peer, DateTimeOffset now) => _permissions.TryGetValue(peer, out DateTimeOffset expiry) && now < expiry;

    internal void InstallPermission(IPAddress peer, DateTimeOffset expiry) => _permissions[peer] = expiry;

    /// <summary>The binding of <paramref name="channel"/>, active or cooling down.</summary>
    internal ChannelBinding? FindChannel(ushort channel) => _channelsByNumber.GetValueOrDefault(channel);

    internal ChannelBinding? FindChannel(IPEndPoint peer) => _channelsByPeer.GetValueOrDefault(peer);

    /// <summary>The channel bound to <paramref name="peer"/> now, or 0.</summary>
    public ushort ActiveChannelFor(IPEndPoint peer, DateTimeOffset now) =>
        _channelsByPeer.TryGetValue(peer, out ChannelBinding? binding) && now < binding.Expiry ? binding.Channel : (ushort)0;

    internal void Bind(ushort channel, IPEndPoint peer, DateTimeOffset expiry)
    {
        if (_channelsByNumber.TryGetValue(channel, out ChannelBinding? binding))
        {
            binding.Expiry = expiry;
            return;
        }
        binding = new ChannelBinding(channel, peer) { Expiry = expiry };
        _channelsByNumber[channel] = binding;
        _channelsByPeer[peer] = binding;
    }

    /// <summary>Forgets expired permissions and channels whose cool-down is over.</summary>
    internal void Prune(DateTimeOffset now)
    {
        List<IPAddress>? stale = null;
        foreach ((IPAddress peer, DateTimeOffset expiry) in _permissions)
        {
            if (now >= expiry)
            {
                (stale ??= []).Add(peer);
            }
        }
        stale?.ForEach(p => _permissions.Remove(p));
        List<ChannelBinding>? old = null;
        foreach (ChannelBinding binding in _channelsByNumber.Values)
        {
            if (now >= binding.Expiry + ChannelCooldown)
            {
                (old ??= []).Add(binding);
            }
        }
        old?.ForEach(b => { _channelsByNumber.Remove(b.Channel); _channelsByPeer.Remove(b.Peer); });
    }

    /// <summary>
    /// Whether <paramref name="bytes"/> may be relayed now under the allocation's own bandwidth
    /// limit, its user's and its source's (each a token bucket with one second of burst); they are
    /// spent only when all three have room. False: over a limit, drop.
    /// </summary>
    internal bool TryConsume(int bytes, DateTimeOffset now)
    {
        TimeSpan at = RelayBandwidth.Clock(now);
        if (!HasRoom(_ownBandwidth, bytes, at) || !HasRoom(_userBandwidth, bytes, at) || !HasRoom(_sourceBandwidth, bytes, at))
        {
            return false;
        }
        _ownBandwidth?.Take(bytes);
        _userBandwidth?.Take(bytes);
        _sourceBandwidth?.Take(bytes);
        return true;
    }

    private static bool HasRoom(TokenBucket? bucket, int bytes, TimeSpan now) => bucket is null || bucket.HasRoomFor(bytes, now);

    internal sealed class ChannelBinding(ushort channel, IPEndPoint peer)
    {
        public ushort Channel { get; } = channel;
        public IPEndPoint Peer { get; } = peer;
        public DateTimeOffset Expiry { get; set; }
    }
}
