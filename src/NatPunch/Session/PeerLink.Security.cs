using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NatPunch.Protocol.Turn;
using NatPunch.Relay;
using NatPunch.Security;

namespace NatPunch.Session;

/// <summary>
/// The link's end-to-end security: the Noise handshake on the selected path (asked for by the session
/// core, PeerLink.Paths.cs), sealing of every session datagram afterwards, and path
/// validation: once the session has keys, a newly selected path (an upgrade from the relay, an ICE
/// restart, candidates that came through the rendezvous) carries data only after the peer echoed a
/// sealed challenge on it, so a forged restart or candidate cannot move the session elsewhere.
/// Opening runs on the receive loop (or a TCP relay's reader); handshake and path state are the loop's.
/// </summary>
internal sealed partial class PeerLink
{
    private static readonly TimeSpan ChallengeInterval = TimeSpan.FromMilliseconds(200);
    private const int ChallengeLength = 8;

    // Loop-owned.
    private SessionHandshake? _handshake;
    private bool _outcomeReported;
    private DataTarget? _pendingTarget;
    private Traversal.IceEvent.Selected? _pendingSelected;
    private byte[]? _challenge;
    private TimeSpan? _nextChallengeAt;
    // Read by senders and the receive path: set once by the loop.
    private volatile SessionCrypto? _crypto;
    private volatile bool _established;
    private long _handshakeStrays;

    /// <summary>The session's keys once the handshake has them; null before.</summary>
    public SessionCrypto? Crypto => _crypto;

    /// <summary>Sealed datagrams that did not open (forged, replayed, truncated) plus handshake frames dropped.</summary>
    public long RefusedDatagrams => (_crypto?.Refused ?? 0) + (_handshake?.Dropped ?? 0) + Interlocked.Read(ref _handshakeStrays);

    private TimeSpan? SecurityWakeUp => Core.WakeUpTime.Earliest(_handshake?.NextWakeUp, _pendingTarget is null ? null : _nextChallengeAt);

    private void HandleSecurityTimeouts(TimeSpan now)
    {
        if (_handshake?.NextWakeUp is { } due && due <= now)
        {
            _handshake.HandleTimeout(now);
        }
        if (_pendingTarget is { } pending && _nextChallengeAt is { } at && at <= now)
        {
            SendSealed(pending, SessionMessageType.PathChallenge, _challenge, now);
            _nextChallengeAt = now + ChallengeInterval;
        }
        FlushHandshake(now);
    }

    /// <summary>Sends what the handshake wants sent to the current path, installs its keys, reports its outcome.</summary>
    private void FlushHandshake(TimeSpan now)
    {
        if (_handshake is not { } handshake)
        {
            return;
        }
        if (handshake.Crypto is { } crypto && _crypto is null)
        {
            _crypto = crypto;
        }
        while (handshake.TryPollFrame(out byte[] frame))
        {
            if (_dataTarget is { } target)
            {
                SendFrame(target, frame);
            }
        }
        while (handshake.TryPollSealed(out SessionMessageType type, out byte[] body))
        {
            if (_dataTarget is { } target)
            {
                SendSealed(target, type, body, now);
            }
        }
        // No stream segment is sent or delivered before the outcome is Established.
        if (handshake.Outcome is { } outcome && !_outcomeReported)
        {
            _outcomeReported = true;
            _established = outcome is HandshakeOutcome.Established;
            _session.HandleHandshake(outcome, now);
        }
    }

    /// <summary>
    /// A new pair was selected. Before the keys exist the handshake runs on it at once; afterwards it
    /// is validated first, and its <paramref name="selected"/> event is reported when data moves there.
    /// </summary>
    private bool SelectTarget(DataTarget target, Traversal.IceEvent.Selected selected, TimeSpan now)
    {
        if (_crypto is null)
        {
            _previousTarget = _dataTarget;
            _dataTarget = target;
            return true;
        }
        _pendingTarget = target;
        _pendingSelected = selected;
        _challenge = RandomNumberGenerator.GetBytes(ChallengeLength);
        SendSealed(target, SessionMessageType.PathChallenge, _challenge, now);
        _nextChallengeAt = now + ChallengeInterval;
        return false;
    }

    private void PathResponse(ReadOnlySpan<byte> body, IPEndPoint from)
    {
        if (_pendingTarget is not { } pending || _challenge is null || !from.Equals(pending.EndPoint)
            || !CryptographicOperations.FixedTimeEquals(body, _challenge))
        {
            return;
        }
        _previousTarget = _dataTarget;
        _dataTarget = pending;
        _pendingTarget = null;
        _challenge = null;
        if (_pendingSelected is { } selected)
        {
            _pendingSelected = null;
            _session.PathMoved(selected, Now);
        }
    }

    /// <summary>
    /// A session datagram (marker 0xE1 or 0xE2) from <paramref name="from"/>, directly or through
    /// <paramref name="via"/>. Segments go up at once; everything else is the loop's.
    /// </summary>
    private void OnSessionDatagram(ReadOnlySpan<byte> frame, IPEndPoint from, RelayConnection? via)
    {
        if (HandshakeFrame.LooksLikeHandshake(frame))
        {
            byte[] copy = frame.ToArray();
            _commands.Writer.TryWrite(() =>
            {
                if (_handshake is null)
                {
                    Interlocked.Increment(ref _handshakeStrays);
                    return;
                }
                _handshake.HandleFrame(copy, Now);
                FlushHandshake(Now);
            });
            return;
        }
        SessionCrypto? crypto = _crypto;
        if (crypto is null)
        {
            Interlocked.Increment(ref _strayDatagrams); // no keys yet: nothing of this session can be sealed
            return;
        }
        // Opened straight into the array that goes up to the stream: no second copy.
        byte[] plaintext = new byte[frame.Length - SealedFrame.HeaderLength - SealedFrame.TagLength];
        if (!crypto.TryOpen(frame, plaintext, out SessionMessageType type, out int length))
        {
            return; // counted by the crypto
        }
        ReadOnlySpan<byte> body = plaintext.AsSpan(1, length);
        switch (type)
        {
            case SessionMessageType.Segment:
                // Authenticated, so its source does not matter: a roaming peer's data is its data.
                if (_established)
                {
                    _inboundSegments.Writer.TryWrite(plaintext.AsMemory(1, length));
                }
                break;
            case SessionMessageType.Accept or SessionMessageType.Refuse:
            {
                byte[] copy = body.ToArray();
                _commands.Writer.TryWrite(() =>
                {
                    _handshake?.HandleVerdict(type, copy);
                    FlushHandshake(Now);
                });
                break;
            }
            case SessionMessageType.PathChallenge when length == ChallengeLength:
            {
                // Echo on the path it came by; the echo is sealed, so it reflects nothing to a stranger.
                byte[] copy = body.ToArray();
                _commands.Writer.TryWrite(() => SendSealed(ReplyTarget(from, via), SessionMessageType.PathResponse, copy, Now));
                break;
            }
            case SessionMessageType.PathResponse when length == ChallengeLength:
            {
                byte[] copy = body.ToArray();
                _commands.Writer.TryWrite(() => PathResponse(copy, from));
                break;
            }
        }
    }

    private DataTarget ReplyTarget(IPEndPoint from, RelayConnection? via)
    {
        foreach (DataTarget? known in new[] { _dataTarget, _pendingTarget, _previousTarget })
        {
            if (known is not null && known.EndPoint.Equals(from) && known.Relay == via)
            {
                return known;
            }
        }
        return new DataTarget(from, WireAddress(from).Serialize(), via);
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
        if (target.Relay is not { } relay)
        {
            try
            {
                _socket.SendTo(frame, SocketFlags.None, target.Address);
            }
            catch (SocketException)
            {
                // A full buffer or an ICMP error on a dying path: the stream retransmits.
            }
            return;
        }
        if (target.Channel == 0)
        {
            byte[] copy = frame.ToArray();
            _commands.Writer.TryWrite(() => _session.SendThroughRelay(target.EndPoint, copy, Now));
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
