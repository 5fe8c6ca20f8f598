using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

using NatPunch.Server.Internal;

namespace NatPunch.Server.Turn;

/// <summary>
/// The TURN server core (RFC 8656) without I/O of its own: requests, indications and ChannelData
/// from clients and datagrams from peers go in with the time; responses and relayed data go out
/// through <see cref="ITurnEnvironment"/>, which also binds the relay sockets. It holds every
/// allocation and is not thread-safe: one owner calls it (see <see cref="TurnService"/>).
/// </summary>
public sealed partial class TurnCore
{
    /// <summary>Largest message the core writes: a Data indication around a 64 KiB datagram.</summary>
    private const int OutputBufferSize = 65536 + 256;

    private readonly TurnOptions _options;
    private readonly ITurnEnvironment _environment;
    private readonly TurnAuthenticator _authenticator;
    private readonly PeerAddressPolicy _peerPolicy;
    // The server's own UDP service ports (STUN/TURN) and listen addresses: no relaying into them.
    private readonly HashSet<int> _servicePorts = [];
    private readonly HashSet<IPAddress> _serviceAddresses = [];
    private readonly Random _random;
    private readonly byte[] _output = new byte[OutputBufferSize];

    private readonly Dictionary<TurnClient, TurnAllocation> _allocations = [];
    private readonly Dictionary<IRelaySocket, TurnAllocation> _byRelay = new(ReferenceEqualityComparer.Instance);
    private readonly Tally<string> _allocationsPerUser = new(StringComparer.Ordinal);
    private readonly Tally<UInt128> _allocationsPerSource = new();
    private readonly SharedByteBuckets<string> _bandwidthPerUser;
    private readonly SharedByteBuckets<UInt128> _bandwidthPerSource;
    private readonly Dictionary<ulong, Reservation> _reservations = [];

    /// <summary>The time of the input being handled.</summary>
    private DateTimeOffset _now;

    public TurnCore(TurnOptions options, ITurnEnvironment environment, TurnAuthenticator? authenticator = null, Random? random = null)
    {
        if (options.MinPort is < 1 or > 65535 || options.MaxPort < options.MinPort || options.MaxPort > 65535)
        {
            throw new ArgumentException($"Relay port range {options.MinPort}-{options.MaxPort} is not valid.", nameof(options));
        }
        _options = options;
        _environment = environment;
        _authenticator = authenticator ?? new TurnAuthenticator(options);
        _peerPolicy = new PeerAddressPolicy(options);
        _random = random ?? Random.Shared;
        _bandwidthPerUser = new SharedByteBuckets<string>(options.MaxBytesPerSecondPerUser, StringComparer.Ordinal);
        _bandwidthPerSource = new SharedByteBuckets<UInt128>(options.MaxBytesPerSecondPerAddress);
    }

    public int AllocationCount => _allocations.Count;

    public TurnCounters Counters { get; } = new();

    public TurnAllocation? FindAllocation(TurnClient client) => _allocations.GetValueOrDefault(client);

    /// <summary>A STUN message or ChannelData from a client.</summary>
    public void HandleFromClient(TurnClient client, ReadOnlySpan<byte> message, DateTimeOffset now)
    {
        _now = now;
        if (ChannelData.LooksLikeChannelData(message, legacyRange: true))
        {
            HandleChannelData(client, message);
            return;
        }
        if (!StunMessage.TryParse(message, out StunMessage request, out _)
            || (request.HasFingerprint && !request.VerifyFingerprint()))
        {
            Counters.Malformed++;
            return;
        }
        switch (request.Type.Class)
        {
            case StunClass.Indication:
                if (request.Type.Method == StunMethod.Send)
                {
                    HandleSend(client, request);
                }
                else
                {
                    Counters.Dropped++;
                }
                return;
            case StunClass.Request:
                HandleRequest(client, request);
                return;
            default:
                Counters.Dropped++;
                return;
        }
    }

    /// <summary>The client's connection is gone (TCP): its allocation goes too (RFC 8656 §3.1).</summary>
    public void OnClientDisconnected(TurnClient client)
    {
        if (_allocations.TryGetValue(client, out TurnAllocation? allocation))
        {
            Delete(allocation);
        }
    }

    /// <summary>Deletes what has expired: allocations, reservations, permissions, channels. Call about once a second.</summary>
    public void Expire(DateTimeOffset now)
    {
        _now = now;
        List<TurnAllocation>? expired = null;
        bool anyRevoked = _authenticator.AnyRevoked;
        foreach (TurnAllocation allocation in _allocations.Values)
        {
            // A grant whose registration ended takes its allocations with it.
            if (now >= allocation.Expiry || (anyRevoked && _authenticator.IsRevoked(allocation.Username)))
            {
                (expired ??= []).Add(allocation);
            }
            else
            {
                allocation.Prune(now);
            }
        }
        expired?.ForEach(Delete);
        List<ulong>? stale = null;
        foreach ((ulong token, Reservation reservation) in _reservations)
        {
            if (now >= reservation.Expiry)
            {
                (stale ??= []).Add(token);
            }
        }
        stale?.ForEach(token => { _reservations[token].Socket.Dispose(); _reservations.Remove(token); });
    }

    /// <summary>Deletes every allocation and reservation, closing their sockets.</summary>
    public void Clear()
    {
        foreach (TurnAllocation allocation in _allocations.Values.ToList())
        {
            Delete(allocation);
        }
        foreach (Reservation reservation in _reservations.Values)
        {
            reservation.Socket.Dispose();
        }
        _reservations.Clear();
    }

    /// <summary>
    /// The server's own UDP endpoints (its STUN/TURN ports): relaying to them is refused (ChannelBind
    /// 403) or dropped (Send, ChannelData), on the relay's own address as on these. A peer there would
    /// be the server itself: requests that look as if they came from the server (past every
    /// per-source limit), or a loop through its own relay. Other allocations' relayed addresses on the
    /// same host stay reachable (two relayed peers talk through them). Call before traffic flows.
    /// </summary>
    public void ProtectServiceEndPoints(IEnumerable<IPEndPoint> endPoints)
    {
        foreach (IPEndPoint endPoint in endPoints)
        {
            IPEndPoint normal = TurnClient.Normalize(endPoint);
            _servicePorts.Add(normal.Port);
            if (!normal.Address.Equals(IPAddress.Any) && !normal.Address.Equals(IPAddress.IPv6Any))
            {
                _serviceAddresses.Add(normal.Address);
            }
        }
    }

    private bool IsServiceEndPoint(TurnAllocation allocation, IPEndPoint peer) =>
        _servicePorts.Count > 0 && _servicePorts.Contains(peer.Port)
        && (peer.Address.Equals(allocation.RelayedAddress.Address) || _serviceAddresses.Contains(peer.Address));

    private void HandleRequest(TurnClient client, StunMessage request)
    {
        Counters.Requests++;
        StunMethod method = request.Type.Method;
        if (method is not (StunMethod.Allocate or StunMethod.Refresh or StunMethod.CreatePermission or StunMethod.ChannelBind))
        {
            // RFC 6062 (TCP relays) is not implemented.
            SendError(client, request, StunErrorCode.BadRequest, null, "Unsupported method");
            return;
        }
        TurnAllocation? allocation = null;
        if (method != StunMethod.Allocate)
        {
            _allocations.TryGetValue(client, out allocation);
        }
        // The allocation's own (REST) username stays good for its requests after its expiry: a grant
        // bounds when allocations may be made, and a session on the relay outlives it.
        if (!Authenticate(client, request, allocation?.Username, out string username, out byte[]? key))
        {
            return;
        }
        Span<ushort> unknown = stackalloc ushort[8];
        int unknownCount = request.GetUnknownComprehensionRequired(unknown);
        if (unknownCount > 0)
        {
            SendError(client, request, StunErrorCode.UnknownAttribute, key, unknown: unknown[..Math.Min(unknownCount, unknown.Length)]);
            return;
        }
        if (method == StunMethod.Allocate)
        {
            HandleAllocate(client, request, username, key);
            return;
        }
        if (allocation is not null && _now >= allocation.Expiry)
        {
            // Expired, and the housekeeping tick has not come round yet.
            Delete(allocation);
            allocation = null;
        }
        if (allocation is null)
        {
            SendError(client, request, StunErrorCode.AllocationMismatch, key);
            return;
        }
        if (allocation.Username != username)
        {
            SendError(client, request, StunErrorCode.WrongCredentials, key);
            return;
        }
        switch (method)
        {
            case StunMethod.Refresh:
                HandleRefresh(client, request, allocation, key);
                break;
            case StunMethod.CreatePermission:
                HandleCreatePermission(client, request, allocation, key);
                break;
            default:
                HandleChannelBind(client, request, allocation, key);
                break;
        }
    }

    /// <summary>Long-term credentials (RFC 8489 §9.2.4); false when an error has been sent.</summary>
    private bool Authenticate(TurnClient client, StunMessage request, string? usableAfterExpiry, out string username, out byte[]? key)
    {
        username = string.Empty;
        key = null;
        if (!_authenticator.Required)
        {
            return true;
        }
        switch (_authenticator.Check(request, client.Remote.Address, _now, usableAfterExpiry, out username, out key))
        {
            case TurnAuthResult.Ok:
                return true;
            case TurnAuthResult.BadRequest:
                SendError(client, request, StunErrorCode.BadRequest, null, "USERNAME, REALM and NONCE are required");
                break;
            case TurnAuthResult.StaleNonce:
                Counters.AuthFailures++;
                SendError(client, request, StunErrorCode.StaleNonce, null, challenge: true);
                break;
            case TurnAuthResult.Unauthorized:
                Counters.AuthFailures++;
                SendError(client, request, StunErrorCode.Unauthorized, null, challenge: true);
                break;
            default:
                SendError(client, request, StunErrorCode.Unauthorized, null, challenge: true);
                break;
        }
        key = null;
        return false;
    }

    /// <summary>Lifetime granted for a request's LIFETIME (RFC 8656 §7.2 step 9, §8.2); zero only when asked for zero.</summary>
    private TimeSpan GrantedLifetime(StunMessage request, bool zeroDeletes)
    {
        if (!request.TryGetUInt32(StunAttributeType.Lifetime, out uint seconds))
        {
            return _options.DefaultLifetime;
        }
        if (seconds == 0 && zeroDeletes)
        {
            return TimeSpan.Zero;
        }
        TimeSpan requested = TimeSpan.FromSeconds(seconds);
        TimeSpan granted = requested < _options.MaxLifetime ? requested : _options.MaxLifetime;
        return granted > _options.DefaultLifetime ? granted : _options.DefaultLifetime;
    }

    private void Delete(TurnAllocation allocation)
    {
        _allocations.Remove(allocation.Client);
        _byRelay.Remove(allocation.Relay);
        UInt128 source = SourceKey.Of(allocation.Client.Remote.Address);
        _allocationsPerUser.Remove(allocation.Username);
        _allocationsPerSource.Remove(source);
        _bandwidthPerUser.Release(allocation.Username);
        _bandwidthPerSource.Release(source);
        allocation.Relay.Dispose();
    }

    private StunMessageBuilder Begin(StunMessage request, StunClass responseClass) =>
        new(_output, new StunMessageType(request.Type.Method, responseClass), request.TransactionId);

    /// <summary>Signs (when there is a key), fingerprints (when the request had one), sends; returns the length.</summary>
    private int Finish(ref StunMessageBuilder builder, TurnClient client, byte[]? key, bool fingerprint)
    {
        if (_options.Software is { } software)
        {
            builder.AddString(StunAttributeType.Software, software);
        }
        if (key is not null)
        {
            builder.AddMessageIntegrity(key);
        }
        if (fingerprint)
        {
            builder.AddFingerprint();
        }
        _environment.SendToClient(client, builder.Written);
        return builder.Length;
    }

    private void SendError(TurnClient client, StunMessage request, int code, byte[]? key, string? reason = null,
        bool challenge = false, ReadOnlySpan<ushort> unknown = default)
    {
        Counters.Errors++;
        StunMessageBuilder builder = Begin(request, StunClass.ErrorResponse);
        builder.AddErrorCode(code, reason);
        if (!unknown.IsEmpty)
        {
            builder.AddUnknownAttributes(unknown);
        }
        if (challenge)
        {
            builder.AddString(StunAttributeType.Realm, _authenticator.Realm);
            builder.AddString(StunAttributeType.Nonce, _authenticator.NewNonce(client.Remote.Address, _now));
        }
        Finish(ref builder, client, key, request.HasFingerprint);
    }

    private readonly record struct Reservation(IRelaySocket Socket, DateTimeOffset Expiry);
}

/// <summary>What the TURN core has done; read under the core's owner.</summary>
public sealed class TurnCounters
{
    public long Requests { get; internal set; }
    public long Errors { get; internal set; }
    public long AuthFailures { get; internal set; }
    public long Malformed { get; internal set; }
    public long AllocationsCreated { get; internal set; }
    /// <summary>Datagrams relayed from clients to peers.</summary>
    public long ToPeers { get; internal set; }
    /// <summary>Datagrams relayed from peers to clients.</summary>
    public long ToClients { get; internal set; }
    /// <summary>Payload bytes relayed from clients to peers.</summary>
    public long BytesToPeers { get; internal set; }
    /// <summary>Payload bytes relayed from peers to clients.</summary>
    public long BytesToClients { get; internal set; }
    /// <summary>Data with no allocation, permission or channel, or not a request.</summary>
    public long Dropped { get; internal set; }
    /// <summary>Relayed datagrams dropped over a bandwidth limit (per allocation, per user or per source).</summary>
    public long BandwidthDrops { get; internal set; }
    /// <summary>Allocations refused with 486 (per user, per source or in total).</summary>
    public long QuotaRefusals { get; internal set; }
    /// <summary>Permissions refused because the allocation holds as many as it may (508).</summary>
    public long PermissionRefusals { get; internal set; }

    public override string ToString() =>
        $"requests={Requests} errors={Errors} auth-failures={AuthFailures} allocations={AllocationsCreated} to-peers={ToPeers} to-clients={ToClients} dropped={Dropped} bandwidth-drops={BandwidthDrops} malformed={Malformed}"
        + $" quota-refusals={QuotaRefusals} permission-refusals={PermissionRefusals}";
}
