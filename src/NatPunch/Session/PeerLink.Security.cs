using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Turn;
using NatPunch.Relay;
using NatPunch.Security;
using NatPunch.Streams;

namespace NatPunch.Session;

/// <summary>
/// The link's sealed data path. The session core runs the handshake and validates new paths
/// (PeerSession.Security.cs); the link learns from it the keys, where data goes and what to send to
/// the peer, and seals and opens stream segments itself, on the sender's thread and the receive loop
/// (or a TCP relay's reader), without a hop through the session's loop. What opens and is not stream
/// data goes to the core.
/// </summary>
internal sealed partial class PeerLink
{
    private const int MaxStackPlaintext = 2048;

    // Loop-owned: the path being validated (its ChannelData is ours already).
    private DataTarget? _pendingTarget;
    // Read by senders and the receive path: set once by the loop.
    private volatile SessionCrypto? _crypto;
    private volatile bool _established;

    /// <summary>The session's keys once the handshake has them; null before.</summary>
    public SessionCrypto? Crypto => _crypto;

    /// <summary>Sealed datagrams that did not open (forged, replayed, truncated) plus handshake frames dropped.</summary>
    public long RefusedDatagrams => (_crypto?.Refused ?? 0) + _session.HandshakeDropped;

    /// <summary>What the core's security asks of the data path: keys, where data goes, what to send.</summary>
    private void HandleSecurityEvent(SessionEvent e)
    {
        switch (e)
        {
            case SessionEvent.Keys keys:
                _crypto = keys.Crypto;
                break;
            case SessionEvent.Established:
                _established = true;
                break;
            case SessionEvent.Validating validating:
                _pendingTarget = TargetFor(validating.Path);
                break;
            case SessionEvent.DataPath moved:
                DataTarget target = TargetFor(moved.Path);
                if (_pendingTarget == target)
                {
                    _pendingTarget = null;
                }
                _previousTarget = _dataTarget;
                _dataTarget = target;
                _mux?.OnPathChanged(target.Tcp is not null);
                CloseUnusedTcpConnections(target);
                if (_session.Agent.SelectedPair is { IsRelayed: false })
                {
                    CloseUnusedProbeSockets(); // a direct path (not even through the peer's relay): probing found it or is not needed
                }
                break;
            case SessionEvent.SendToPeer send:
                SendFrame(TargetFor(send.Path), send.Frame);
                break;
        }
    }

    /// <summary>The data target of a session path: one already in use (with its bound channel), or a new one.</summary>
    private DataTarget TargetFor(SessionPath path)
    {
        Socket from = path.Via is null && !path.Tcp ? SocketFor(path.EndPoint) : _socket;
        foreach (DataTarget? known in new[] { _dataTarget, _pendingTarget, _previousTarget })
        {
            if (known is not null && known.Goes(path) && known.From == from && (known.Tcp is null || !known.Tcp.IsClosed))
            {
                return known;
            }
        }
        RelayConnection? relay = path.Via is { } via ? _relayConnections.GetValueOrDefault(via) : null;
        ushort channel = path.Via is { } attempt && attempt.Core.TryGetChannel(path.EndPoint, out ushort bound) ? bound : (ushort)0;
        TcpPeerConnection? tcp = path.Tcp ? _tcp?.Find(path.EndPoint) : null;
        return new DataTarget(path.EndPoint, WireAddress(path.EndPoint).Serialize(), from, relay, channel, tcp);
    }

    /// <summary>
    /// A session datagram (marker 0xE1 or 0xE2) from <paramref name="from"/>, directly or through
    /// <paramref name="via"/>. Segments go up at once; everything else is the core's, on the loop.
    /// </summary>
    private void OnSessionDatagram(ReadOnlySpan<byte> frame, IPEndPoint from, RelayConnection? via, bool tcp = false)
    {
        if (HandshakeFrame.LooksLikeHandshake(frame))
        {
            byte[] copy = frame.ToArray();
            _loop.TryPost(() => _session.HandleHandshakeFrame(copy, Now));
            return;
        }
        SessionCrypto? crypto = _crypto;
        if (crypto is null)
        {
            Interlocked.Increment(ref _strayDatagrams); // no keys yet: nothing of this session can be sealed
            return;
        }
        if (!SealedFrame.LooksSealed(frame))
        {
            crypto.TryOpen(frame, default, out _, out _); // refused and counted: too short to be sealed
            return;
        }
        // The mux copies what it is handed: opened on the stack. Until there is one, opened straight
        // into the array that waits in the queue.
        StreamMux? mux = _mux;
        int plaintextLength = frame.Length - SealedFrame.HeaderLength - SealedFrame.TagLength;
        byte[]? queued = mux is null || plaintextLength > MaxStackPlaintext ? new byte[plaintextLength] : null;
        Span<byte> plaintext = queued ?? stackalloc byte[plaintextLength];
        if (!crypto.TryOpen(frame, plaintext, out SessionMessageType type, out int length))
        {
            return; // counted by the crypto
        }
        ReadOnlySpan<byte> body = plaintext.Slice(1, length);
        switch (type)
        {
            case SessionMessageType.Segment or SessionMessageType.Datagram or SessionMessageType.MaxStreams or SessionMessageType.StreamsBlocked:
                // Authenticated, so its source does not matter: a roaming peer's data is its data.
                if (!_established)
                {
                    break;
                }
                if (mux is null)
                {
                    _early.Writer.TryWrite((type, queued.AsMemory(1, length)));
                    if (_mux is { } attached)
                    {
                        DeliverEarly(attached); // attached meanwhile: it may have drained the queue before this arrived
                    }
                }
                else if (type == SessionMessageType.Segment)
                {
                    mux.OnSegment(body);
                }
                else
                {
                    mux.OnMessage(type, body);
                }
                break;
            case SessionMessageType.Ping or SessionMessageType.Pong:
                if (_established)
                {
                    OnPing(type, body);
                }
                break;
            default:
            {
                // Handshake verdicts and path checks: the core's, with the path they came by.
                byte[] copy = body.ToArray();
                var path = new SessionPath(from, via?.Attempt, tcp);
                _loop.TryPost(() => _session.HandleControl(type, copy, path, Now));
                break;
            }
        }
    }

    /// <summary>A dual-stack socket sends to IPv4 peers through IPv4-mapped IPv6 addresses.</summary>
    private IPEndPoint WireAddress(IPEndPoint remote) =>
        _socket.AddressFamily == AddressFamily.InterNetworkV6 && remote.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(remote.Address.MapToIPv6(), remote.Port) : remote;

    /// <summary>Seals a message and sends it to <paramref name="target"/>; dropped while there are no keys.</summary>
    private void SendSealed(DataTarget target, SessionMessageType type, ReadOnlySpan<byte> body, TimeSpan now)
    {
        SessionCrypto? crypto = _crypto;
        if (crypto is null)
        {
            return;
        }
        // Room in front for a ChannelData header and behind for TCP's padding, so nothing is copied again.
        int room = ChannelData.HeaderLength + body.Length + SealedFrame.Overhead + 3;
        Span<byte> buffer = room <= 4096 ? stackalloc byte[room] : new byte[room];
        int length = crypto.Seal(type, body, buffer[ChannelData.HeaderLength..], now);
        SendFramed(target, buffer, length);
    }

    private void SendFrame(DataTarget target, ReadOnlySpan<byte> frame)
    {
        Span<byte> buffer = stackalloc byte[ChannelData.HeaderLength + frame.Length + 3];
        frame.CopyTo(buffer[ChannelData.HeaderLength..]);
        SendFramed(target, buffer, frame.Length);
    }

    /// <summary>
    /// Sends the frame at <c>buffer[4 .. 4 + length]</c> on <paramref name="target"/>'s path: from the
    /// socket, as ChannelData on the bound channel (written into the room in front), or as a Send
    /// indication through the loop while no channel is bound.
    /// </summary>
    private void SendFramed(DataTarget target, Span<byte> buffer, int length)
    {
        ReadOnlySpan<byte> frame = buffer.Slice(ChannelData.HeaderLength, length);
        if (target.Tcp is { } tcp)
        {
            // The length goes in the room in front (RFC 4571); a failed send closes the connection, which the agent hears.
            tcp.SendWithRoomInFront(buffer.Slice(ChannelData.HeaderLength - TcpPeerConnection.FrameHeaderLength, TcpPeerConnection.FrameHeaderLength + length));
            return;
        }
        if (target.Relay is not { } relay)
        {
            try
            {
                target.From.SendTo(frame, SocketFlags.None, target.Address);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // A full buffer or an ICMP error on a dying path, or an extra socket of port probing
                // closed since the path moved: the stream retransmits.
            }
            return;
        }
        if (target.Channel == 0)
        {
            byte[] copy = frame.ToArray();
            _loop.TryPost(() => _session.SendThroughRelay(target.EndPoint, copy, Now));
            return;
        }
        // RFC 8656 §12.5: over TCP, ChannelData is padded to a multiple of four bytes.
        int padded = relay.Transport == TurnServerTransport.Tcp ? (length + 3) & ~3 : length;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, target.Channel);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)length);
        buffer.Slice(ChannelData.HeaderLength + length, padded - length).Clear();
        relay.SendRaw(buffer[..(ChannelData.HeaderLength + padded)]);
    }
}
