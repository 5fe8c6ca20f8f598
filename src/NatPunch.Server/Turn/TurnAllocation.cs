using System.Net;
using NatPunch.Protocol.Stun;

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
    private double _tokens;
    private DateTimeOffset _tokensAt;

    internal TurnAllocation(TurnClient client, IRelaySocket relay, string username, byte[]? key, DateTimeOffset expiry,
        TransactionId allocateTransaction, DateTimeOffset now)
    {
        Client = client;
        Relay = relay;
        RelayedAddress = relay.LocalEndPoint;
        Username = username;
        Key = key;
        Expiry = expiry;
        AllocateTransaction = allocateTransaction;
        _tokensAt = now;
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

    /// <summary>Token bucket of <paramref name="bytesPerSecond"/> with one second of burst; false = over the cap, drop.</summary>
    internal bool TryConsume(int bytes, long bytesPerSecond, DateTimeOffset now)
    {
        if (bytesPerSecond <= 0)
        {
            return true;
        }
        double elapsed = Math.Max(0, (now - _tokensAt).TotalSeconds);
        _tokensAt = now;
        _tokens = Math.Min(bytesPerSecond, _tokens + elapsed * bytesPerSecond);
        if (_tokens < bytes)
        {
            return false;
        }
        _tokens -= bytes;
        return true;
    }

    internal void StartBucketFull(long bytesPerSecond) => _tokens = bytesPerSecond;

    internal sealed class ChannelBinding(ushort channel, IPEndPoint peer)
    {
        public ushort Channel { get; } = channel;
        public IPEndPoint Peer { get; } = peer;
        public DateTimeOffset Expiry { get; set; }
    }
}
