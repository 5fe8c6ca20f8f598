using System.Security.Cryptography;
using NatPunch.Core;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// The session's end-to-end security, in the core: the Noise handshake on the first selected path
/// (when the path manager asks), the keys it yields (<see cref="Crypto"/>), and path validation:
/// once there are keys, a newly selected pair (an upgrade from the relay, an ICE restart, candidates
/// that came through the rendezvous) carries data only after the peer echoed a sealed challenge on
/// it, so a forged restart or candidate cannot move the session elsewhere. The driver opens sealed
/// datagrams on its data path and hands the core what is not stream data (<see cref="HandleControl"/>).
/// </summary>
internal sealed partial class PeerSession
{
    private static readonly TimeSpan ChallengeInterval = TimeSpan.FromMilliseconds(200);
    private const int ChallengeLength = 8;

    private Func<TimeSpan, SessionHandshake>? _newHandshake;
    private SessionHandshake? _handshake;
    private bool _outcomeReported;
    private SessionPath? _current;
    private SessionPath? _pending;
    private IceEvent.Selected? _pendingSelection;
    private byte[]? _challenge;
    private TimeSpan? _nextChallengeAt;

    /// <summary>The session's keys once the handshake has them; null before.</summary>
    public SessionCrypto? Crypto { get; private set; }

    /// <summary>The handshake proved the peer's key: stream data may flow.</summary>
    public bool Established => _establishedAt is not null;

    /// <summary>Handshake frames dropped (malformed, replayed, out of turn, or none expected); safe to read from any thread.</summary>
    public long HandshakeDropped => (_handshake?.Dropped ?? 0) + Interlocked.Read(ref _strayHandshakeFrames);

    private long _strayHandshakeFrames;

    private TimeSpan? SecurityWakeUp => WakeUpTime.Earliest(_handshake?.NextWakeUp, _pending is null ? null : _nextChallengeAt);

    /// <summary>A handshake frame (marker 0xE2) from the peer.</summary>
    public void HandleHandshakeFrame(ReadOnlySpan<byte> frame, TimeSpan now)
    {
        if (_handshake is null)
        {
            Interlocked.Increment(ref _strayHandshakeFrames); // read from any thread
            return;
        }
        _handshake.HandleFrame(frame, now);
        Flush(now);
    }

    /// <summary>A sealed datagram other than stream data, opened by the driver, that came on <paramref name="from"/>.</summary>
    public void HandleControl(SessionMessageType type, ReadOnlySpan<byte> body, SessionPath from, TimeSpan now)
    {
        switch (type)
        {
            case SessionMessageType.Accept or SessionMessageType.Refuse:
                _handshake?.HandleVerdict(type, body);
                break;
            case SessionMessageType.PathChallenge when body.Length == ChallengeLength:
                // Echoed on the path it came by; the echo is sealed, so it reflects nothing to a stranger.
                SendSealed(from, SessionMessageType.PathResponse, body, now);
                break;
            case SessionMessageType.PathResponse when body.Length == ChallengeLength:
                PathResponse(body, from);
                break;
        }
        Flush(now);
    }

    private void HandleSecurityTimeouts(TimeSpan now)
    {
        if (_handshake?.NextWakeUp is { } due && due <= now)
        {
            _handshake.HandleTimeout(now);
        }
        if (_pending is { } pending && _nextChallengeAt is { } at && at <= now)
        {
            SendSealed(pending, SessionMessageType.PathChallenge, _challenge, now);
            _nextChallengeAt = now + ChallengeInterval;
        }
    }

    private void StartHandshake(TimeSpan now) => _handshake = _newHandshake!(now);

    /// <summary>Sends what the handshake wants sent on the current path, installs its keys, reports its outcome. True if anything happened.</summary>
    private bool FlushHandshake(TimeSpan now)
    {
        if (_handshake is not { } handshake)
        {
            return false;
        }
        bool any = false;
        if (handshake.Crypto is { } crypto && Crypto is null)
        {
            any = true;
            Crypto = crypto;
            _events.Enqueue(new SessionEvent.Keys(crypto));
        }
        while (handshake.TryPollFrame(out byte[] frame))
        {
            any = true;
            if (_current is { } path)
            {
                _events.Enqueue(new SessionEvent.SendToPeer(path, frame));
            }
        }
        while (handshake.TryPollSealed(out SessionMessageType type, out byte[] body))
        {
            any = true;
            if (_current is { } path)
            {
                SendSealed(path, type, body, now);
            }
        }
        // No stream data is sent or delivered before the outcome is Established.
        if (handshake.Outcome is { } outcome && !_outcomeReported)
        {
            any = true;
            _outcomeReported = true;
            if (outcome is HandshakeOutcome.Established)
            {
                _establishedAt = now;
                _events.Enqueue(new SessionEvent.Established());
            }
            _paths?.HandleHandshake(outcome, now);
        }
        return any;
    }

    /// <summary>
    /// A pair was selected. Before the keys exist data moves there at once (the handshake runs on it);
    /// afterwards it is validated first, and the selection is reported once data moved.
    /// </summary>
    private void Select(IceEvent.Selected selection, SessionPath path, TimeSpan now)
    {
        if (Crypto is null)
        {
            MoveTo(path);
            Report(selection);
            return;
        }
        _pending = path;
        _pendingSelection = selection;
        _challenge = RandomNumberGenerator.GetBytes(ChallengeLength);
        _events.Enqueue(new SessionEvent.Validating(path));
        SendSealed(path, SessionMessageType.PathChallenge, _challenge, now);
        _nextChallengeAt = now + ChallengeInterval;
    }

    private void PathResponse(ReadOnlySpan<byte> body, SessionPath from)
    {
        if (_pending is not { } pending || _challenge is null || from != pending || !CryptographicOperations.FixedTimeEquals(body, _challenge))
        {
            return;
        }
        _pending = null;
        _challenge = null;
        MoveTo(pending);
        if (_pendingSelection is { } selection)
        {
            _pendingSelection = null;
            Report(selection);
        }
    }

    private void MoveTo(SessionPath path)
    {
        _current = path;
        _events.Enqueue(new SessionEvent.DataPath(path));
    }

    /// <summary>Seals a message for <paramref name="path"/>; dropped while there are no keys.</summary>
    private void SendSealed(SessionPath path, SessionMessageType type, ReadOnlySpan<byte> body, TimeSpan now)
    {
        if (Crypto is not { } crypto)
        {
            return;
        }
        byte[] frame = new byte[body.Length + SealedFrame.Overhead]; // exactly what Seal writes
        crypto.Seal(type, body, frame, now);
        _events.Enqueue(new SessionEvent.SendToPeer(path, frame));
    }
}
