using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

using NatPunch.Server.Internal;

namespace NatPunch.Server.Turn;

public sealed partial class TurnCore
{
    /// <summary>Bind attempts before an Allocate gets 508 Insufficient Capacity.</summary>
    private const int MaxBindAttempts = 256;

    /// <summary>RFC 8656 §7.2: the checks in the RFC's order, then the relay socket, then the answer.</summary>
    private void HandleAllocate(TurnClient client, StunMessage request, string username, byte[]? key)
    {
        if (_allocations.TryGetValue(client, out TurnAllocation? existing) && _now >= existing.Expiry)
        {
            Delete(existing);
            existing = null;
        }
        if (existing is not null)
        {
            // A retransmitted Allocate gets the same answer; anything else on this 5-tuple is a mismatch.
            if (existing.AllocateTransaction == request.TransactionId && existing.AllocateResponse is { } cached)
            {
                _environment.SendToClient(client, cached);
            }
            else
            {
                SendError(client, request, StunErrorCode.AllocationMismatch, key);
            }
            return;
        }
        if (!request.TryGetAttribute(StunAttributeType.RequestedTransport, out ReadOnlySpan<byte> transport) || transport.Length != 4)
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "REQUESTED-TRANSPORT missing or malformed");
            return;
        }
        if (transport[0] != TurnTransport.Udp)
        {
            SendError(client, request, StunErrorCode.UnsupportedTransportProtocol, key);
            return;
        }
        bool hasToken = request.TryGetAttribute(StunAttributeType.ReservationToken, out ReadOnlySpan<byte> token);
        bool hasEvenPort = request.TryGetAttribute(StunAttributeType.EvenPort, out ReadOnlySpan<byte> evenPort);
        bool hasFamily = request.TryGetAttribute(StunAttributeType.RequestedAddressFamily, out ReadOnlySpan<byte> family);
        if ((hasToken && token.Length != 8) || (hasEvenPort && evenPort.Length < 1) || (hasFamily && family.Length != 4))
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "Malformed attribute");
            return;
        }
        if (hasToken && (hasEvenPort || hasFamily))
        {
            SendError(client, request, StunErrorCode.BadRequest, key, "RESERVATION-TOKEN with EVEN-PORT or REQUESTED-ADDRESS-FAMILY");
            return;
        }
        UInt128 source = SourceKey.Of(client.Remote.Address);
        if ((_options.UserQuota > 0 && _allocationsPerUser[username] >= _options.UserQuota)
            || (_options.AllocationsPerAddress > 0 && _allocationsPerSource[source] >= _options.AllocationsPerAddress)
            || (_options.TotalQuota > 0 && _allocations.Count >= _options.TotalQuota))
        {
            Counters.QuotaRefusals++;
            SendError(client, request, StunErrorCode.AllocationQuotaReached, key);
            return;
        }

        IRelaySocket? relay;
        ulong newToken = 0;
        if (hasToken)
        {
            ulong wanted = BinaryPrimitives.ReadUInt64BigEndian(token);
            if (!_reservations.Remove(wanted, out Reservation reservation))
            {
                SendError(client, request, StunErrorCode.InsufficientCapacity, key, "Unknown or expired RESERVATION-TOKEN");
                return;
            }
            relay = reservation.Socket;
        }
        else
        {
            AddressFamily addressFamily = AddressFamily.InterNetwork;
            if (hasFamily)
            {
                addressFamily = family[0] switch
                {
                    RequestedAddressFamily.IPv4 => AddressFamily.InterNetwork,
                    RequestedAddressFamily.IPv6 => AddressFamily.InterNetworkV6,
                    _ => AddressFamily.Unknown,
                };
            }
            IPAddress? address = addressFamily == AddressFamily.Unknown ? null : _environment.RelayAddressFor(client, addressFamily);
            if (address is null)
            {
                SendError(client, request, StunErrorCode.AddressFamilyNotSupported, key);
                return;
            }
            bool even = hasEvenPort;
            bool reserveNext = hasEvenPort && (evenPort[0] & 0x80) != 0;
            relay = BindRelay(address, even, reserveNext, out IRelaySocket? next);
            if (relay is null)
            {
                SendError(client, request, StunErrorCode.InsufficientCapacity, key, "No relay port available");
                return;
            }
            if (next is not null)
            {
                do
                {
                    newToken = (ulong)_random.NextInt64(1, long.MaxValue);
                }
                while (_reservations.ContainsKey(newToken));
                _reservations[newToken] = new Reservation(next, _now + _options.ReservationLifetime);
            }
        }
        if (request.HasAttribute(StunAttributeType.DontFragment))
        {
            relay.SetDontFragment();
        }

        TimeSpan lifetime = GrantedLifetime(request, zeroDeletes: false);
        var bandwidth = new RelayBandwidth(
            RelayBandwidth.Limit(_options.MaxBytesPerSecond, _now),
            _bandwidthPerUser.Acquire(username, _now),
            _bandwidthPerSource.Acquire(source, _now));
        var allocation = new TurnAllocation(client, relay, username, key, _now + lifetime, request.TransactionId, bandwidth);
        _allocations[client] = allocation;
        _byRelay[relay] = allocation;
        _allocationsPerUser.Add(username);
        _allocationsPerSource.Add(source);
        Counters.AllocationsCreated++;

        StunMessageBuilder builder = Begin(request, StunClass.SuccessResponse);
        builder.AddXorAddress(StunAttributeType.XorRelayedAddress, allocation.RelayedAddress);
        builder.AddUInt32(StunAttributeType.Lifetime, (uint)lifetime.TotalSeconds);
        if (newToken != 0)
        {
            builder.AddUInt64(StunAttributeType.ReservationToken, newToken);
        }
        builder.AddXorAddress(StunAttributeType.XorMappedAddress, client.Remote);
        int length = Finish(ref builder, client, key, request.HasFingerprint);
        allocation.AllocateResponse = _output.AsSpan(0, length).ToArray();
    }

    /// <summary>
    /// Binds a relay socket on a port of the configured range, starting at a random one (RFC 8656
    /// §7.2: ports should be hard to guess). With <paramref name="even"/> the port is even; with
    /// <paramref name="reserveNext"/> port+1 is bound too and returned in <paramref name="next"/>.
    /// </summary>
    private IRelaySocket? BindRelay(IPAddress address, bool even, bool reserveNext, out IRelaySocket? next)
    {
        next = null;
        int range = _options.MaxPort - _options.MinPort + 1;
        int start = _random.Next(range);
        int attempts = 0;
        for (int i = 0; i < range && attempts < MaxBindAttempts; i++)
        {
            int port = _options.MinPort + (start + i) % range;
            if ((even && (port & 1) != 0) || (reserveNext && port + 1 > _options.MaxPort))
            {
                continue;
            }
            attempts++;
            IRelaySocket? socket = _environment.TryBind(new IPEndPoint(address, port));
            if (socket is null)
            {
                continue;
            }
            if (!reserveNext)
            {
                return socket;
            }
            next = _environment.TryBind(new IPEndPoint(address, port + 1));
            if (next is not null)
            {
                return socket;
            }
            socket.Dispose();
        }
        return null;
    }
}
