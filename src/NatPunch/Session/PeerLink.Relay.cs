using System.Buffers.Binary;
using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Relay;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// The I/O of the session's relay (<see cref="RelayLifecycle"/>, in the session core, decides): each
/// attempt gets its way to the server (<see cref="RelayConnection"/>: the link's socket for UDP, a
/// connection of its own for TCP); ChannelData of the selected path goes straight to and from the data
/// path, everything else from the server to the core. Everything here runs on the link's loop, except
/// the data path (<c>SendFramed</c>, <see cref="FromRelayServer"/>), which reads only immutable targets.
/// </summary>
internal sealed partial class PeerLink
{
    // Loop-owned.
    private readonly Dictionary<RelayAttempt, RelayConnection> _relayConnections = [];
    // Read by the receive loop: datagrams from this address may be the UDP attempt's.
    private volatile IPEndPoint? _udpRelayServer;
    private volatile RelayConnection? _udpRelay;

    /// <summary>
    /// Allocates a relayed candidate on <paramref name="server"/> (UDP first, TCP too if UDP stays
    /// silent, as the server allows). When granted, the agent gets it as a candidate and reports it
    /// (<see cref="IceEvent.CandidateGathered"/>); <see cref="RelayChanged"/> tells whether it worked.
    /// </summary>
    public Task StartRelayAsync(RelayServer server) => InvokeAsync((_, now) => _session.StartRelay(server, now));

    /// <summary>
    /// New credentials for the relay server (a fresh grant after registering again: a restarted server
    /// has a new secret and refuses the old grant). The next allocation uses them.
    /// </summary>
    public Task UseRelayCredentialsAsync(TurnCredentials credentials) => InvokeAsync((_, now) => _session.UseRelayCredentials(credentials, now));

    /// <summary>
    /// The relay was granted (again, after a loss), or could not be had (every transport refused or
    /// unanswered), or was lost later (and is being allocated again). Raised on the link's loop:
    /// handlers must be quick and must not call back into the link.
    /// </summary>
    public event Action<RelayStatus>? RelayChanged;

    /// <summary>Why the relay cannot be used, once that is known.</summary>
    public string? RelayFailure => _session.Relay.Failure;

    /// <summary>The relay in use: its transport to the server, once an allocation was granted.</summary>
    public TurnServerTransport? RelayTransport => _session.Relay.Current?.Transport;

    /// <summary>What the relay core asks of the driver: connections opened and closed, progress, channels for the data path.</summary>
    private void HandleRelayEvent(RelayEvent e)
    {
        switch (e)
        {
            case RelayEvent.Started started:
                Connect(started.Attempt);
                break;
            case RelayEvent.Discarded discarded when _relayConnections.Remove(discarded.Attempt, out RelayConnection? connection):
                if (connection == _udpRelay)
                {
                    _udpRelay = null;
                    _udpRelayServer = null;
                }
                _ = connection.DisposeAsync().AsTask();
                break;
            case RelayEvent.StatusChanged changed:
                RelayChanged?.Invoke(changed.Status);
                break;
            case RelayEvent.ChannelBound bound:
                // Data to that peer goes as ChannelData straight from the sender's thread from now on.
                if (_dataTarget is { } target && target.Goes(new SessionPath(bound.Peer, bound.Attempt)))
                {
                    _dataTarget = target with { Channel = bound.Channel };
                }
                if (_pendingTarget is { } pending && pending.Goes(new SessionPath(bound.Peer, bound.Attempt)))
                {
                    _pendingTarget = pending with { Channel = bound.Channel };
                }
                break;
        }
    }

    /// <summary>A new attempt's way to its server: the link's socket for UDP, its own connection for TCP.</summary>
    private void Connect(RelayAttempt attempt)
    {
        var connection = new RelayConnection(attempt, _socket);
        _relayConnections[attempt] = connection;
        if (attempt.Transport == TurnServerTransport.Udp)
        {
            _udpRelay = connection;
            _udpRelayServer = attempt.Server;
            return;
        }
        _ = ConnectTcpAsync(connection);
    }

    private async Task ConnectTcpAsync(RelayConnection connection)
    {
        RelayAttempt attempt = connection.Attempt;
        try
        {
            await connection.ConnectAsync(
                message => FromRelayServer(message, connection),
                reason => _loop.TryPost(() => _session.RelayAttemptFailed(attempt, reason, Now)),
                _session.Relay.AllocateTimeout, _time).ConfigureAwait(false);
            _loop.TryPost(() => _session.RelayConnected(attempt, Now));
        }
        catch (System.Net.Sockets.SocketException e)
        {
            _loop.TryPost(() => _session.RelayAttemptFailed(attempt, e.Message, Now));
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
    /// RFC 7675 and their answers, upgrade checks), which the core hands to the agent.
    /// </summary>
    private void FromRelayServer(ReadOnlySpan<byte> message, RelayConnection? relay)
    {
        if (relay is null)
        {
            return;
        }
        relay.Attempt.LastHeardAt = Now;
        if (message.Length >= ChannelData.HeaderLength && ChannelData.LooksLikeChannelData(message, legacyRange: true))
        {
            ushort channel = BinaryPrimitives.ReadUInt16BigEndian(message);
            int length = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
            if (DataChannelPeer(relay, channel) is { } peer && ChannelData.HeaderLength + length <= message.Length)
            {
                ReadOnlySpan<byte> payload = message.Slice(ChannelData.HeaderLength, length);
                if (PeerSession.IsSessionDatagram(payload))
                {
                    OnSessionDatagram(payload, peer, relay);
                    return;
                }
                // Not a session frame: STUN for the agent (or stray), sorted out on the loop.
            }
        }
        byte[] copy = message.ToArray();
        _loop.TryPost(() => _session.HandleFromRelayServer(relay.Attempt, copy, Now));
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

    /// <summary>Deletes the allocation (Refresh with lifetime 0) so the server frees it now rather than at expiry.</summary>
    private async Task CloseRelaysAsync()
    {
        try
        {
            await InvokeAsync((_, now) =>
            {
                _session.CloseRelay(now);
                DrainSession(now);
            }).WaitAsync(TimeSpan.FromSeconds(1), _time).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectDisposedException or TimeoutException)
        {
        }
    }
}
