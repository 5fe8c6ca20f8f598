using System.Security.Cryptography;
using System.Text;
using NatPunch.Security.Internal;
using NSec.Cryptography;

namespace NatPunch.Security;

/// <summary>
/// The session handshake as a core without I/O: handshake frames, sealed control messages and the
/// time go in; frames to send, control messages to seal, the next wake-up and an
/// <see cref="Outcome"/> come out. The initiator (the side that connects) uses Noise IK when it
/// already knows the responder's key and XX otherwise; a responder that cannot read an IK message
/// says so and the initiator falls back to XX. Once the responder has the initiator's key proven it
/// asks <c>authorize</c> and answers with a sealed Accept or Refuse, so the initiator learns the
/// verdict authenticated and only then reports the session established (key confirmation both ways).
/// <para>
/// Forged or stray frames change nothing: each attempt uses one ephemeral key, and Noise is
/// deterministic given its keys, so a message that fails to authenticate is dropped and the state
/// rebuilt to where it was. Retransmission: the initiator repeats its last message until answered,
/// the responder repeats its second XX message until the third arrives and answers any repeat of
/// the initiator's last message with its cached answer.
/// </para>
/// </summary>
public sealed class SessionHandshake : IDisposable
{
    private readonly bool _initiator;
    private readonly PeerIdentity _identity;
    private readonly PeerKey? _expected;
    private readonly byte[] _prologue;
    private readonly Func<PeerKey, string?> _authorize;
    private readonly SessionHandshakeOptions _options;
    private readonly TimeSpan _started;
    private readonly Queue<byte[]> _frames = new();
    private readonly Queue<(SessionMessageType Type, byte[] Body)> _sealed = new();

    private NoiseHandshakeState? _noise;
    private byte[] _ephemeral;
    // The initiator's last message (resent until answered); the responder's cached answers.
    private byte[]? _lastSent;
    private byte[]? _firstReceived;
    private byte[]? _answer;
    private (SessionMessageType Type, byte[] Body)? _verdict;
    private TimeSpan? _nextRetransmit;
    private TimeSpan _interval;
    private long _dropped;
    // What we offer in our encrypted handshake payloads, and whether the peer offered AES-GCM in its own.
    private readonly byte[] _payload;
    private bool _peerOffersAesGcm;

    /// <param name="initiator">True for the side that connects.</param>
    /// <param name="expected">The responder's key if the initiator knows it (pinned or remembered): IK, and any other key fails.</param>
    /// <param name="prologue">What both sides bind the handshake to (<see cref="SessionPrologue"/>).</param>
    /// <param name="authorize">Whether the peer's proven key is acceptable: null, or why not (naming the keys).</param>
    public SessionHandshake(bool initiator, PeerIdentity identity, PeerKey? expected, byte[] prologue, Func<PeerKey, string?> authorize,
        TimeSpan now, SessionHandshakeOptions? options = null)
    {
        _initiator = initiator;
        _identity = identity;
        _expected = initiator ? expected : null;
        _prologue = prologue;
        _authorize = authorize;
        _options = options ?? SessionHandshakeOptions.Default;
        _started = now;
        _interval = _options.Retransmit;
        _payload = HandshakePayload.Write(_options.Crypto.OfferAesGcm && NoiseTransportCipher.IsSupported(TransportCipher.Aes256Gcm));
        _ephemeral = NewEphemeral();
        if (initiator)
        {
            Begin(_expected is null ? NoisePattern.XX : NoisePattern.IK, now);
        }
    }

    public HandshakeOutcome? Outcome { get; private set; }

    /// <summary>The transport keys, as soon as this side has them (before the verdict, so that it can be sealed and opened).</summary>
    public SessionCrypto? Crypto { get; private set; }

    /// <summary>Handshake frames that were malformed, forged or out of place.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public TimeSpan? NextWakeUp => Outcome is null ? WakeUpEarliest(_nextRetransmit, _started + _options.Timeout) : null;

    public bool TryPollFrame(out byte[] frame) => _frames.TryDequeue(out frame!);

    /// <summary>A control message to seal with <see cref="Crypto"/> and send.</summary>
    public bool TryPollSealed(out SessionMessageType type, out byte[] body)
    {
        bool any = _sealed.TryDequeue(out var message);
        (type, body) = message;
        return any;
    }

    public void HandleTimeout(TimeSpan now)
    {
        if (Outcome is not null)
        {
            return;
        }
        if (now >= _started + _options.Timeout)
        {
            Fail($"no handshake with the peer within {_options.Timeout.TotalSeconds:0} s", keyRefused: false);
            return;
        }
        if (_nextRetransmit is { } due && now >= due && _lastSent is not null)
        {
            _frames.Enqueue(_lastSent);
            _interval = TimeSpan.FromTicks(Math.Min(_interval.Ticks * 2, _options.MaxRetransmit.Ticks));
            _nextRetransmit = now + _interval;
        }
    }

    /// <summary>A handshake frame (marker 0xE2) from the peer's path.</summary>
    public void HandleFrame(ReadOnlySpan<byte> frame, TimeSpan now)
    {
        if (!HandshakeFrame.LooksLikeHandshake(frame) || Outcome is HandshakeOutcome.Failed)
        {
            Drop();
            return;
        }
        var kind = (HandshakeFrameKind)frame[1];
        ReadOnlySpan<byte> message = frame[HandshakeFrame.HeaderLength..];
        if (_initiator)
        {
            InitiatorReceived(kind, message, now);
        }
        else
        {
            ResponderReceived(kind, frame, message, now);
        }
    }

    /// <summary>A sealed Accept or Refuse opened by <see cref="Crypto"/> (initiator only).</summary>
    public void HandleVerdict(SessionMessageType type, ReadOnlySpan<byte> body)
    {
        if (!_initiator || Crypto is null || Outcome is not null)
        {
            return;
        }
        if (type == SessionMessageType.Accept)
        {
            Outcome = new HandshakeOutcome.Established(Crypto.RemoteKey, _noise!.Pattern.ToString());
            _nextRetransmit = null;
        }
        else if (type == SessionMessageType.Refuse)
        {
            string why = body.Length > 0 ? Encoding.UTF8.GetString(body[..Math.Min(body.Length, 200)]) : "no reason given";
            Fail($"the peer refused our key {_identity.PublicKey}: {why}", keyRefused: true);
        }
    }

    private void InitiatorReceived(HandshakeFrameKind kind, ReadOnlySpan<byte> message, TimeSpan now)
    {
        NoiseHandshakeState noise = _noise!;
        bool expected = noise.Pattern == NoisePattern.IK ? kind is HandshakeFrameKind.Ik2 or HandshakeFrameKind.IkRejected : kind == HandshakeFrameKind.Xx2;
        if (Crypto is not null || !expected)
        {
            // Our last message was lost or the answer came twice: the timer repeats it.
            Drop();
            return;
        }
        if (kind == HandshakeFrameKind.IkRejected)
        {
            // The responder is not who we expected, or has a new key: XX proves whichever key it has.
            _ephemeral = NewEphemeral();
            Begin(NoisePattern.XX, now);
            return;
        }
        Span<byte> payload = stackalloc byte[message.Length];
        if (!noise.ReadMessage(message, payload, out int payloadLength))
        {
            Drop();
            Rebuild(now);
            return;
        }
        _peerOffersAesGcm = HandshakePayload.ReadsOfferOfAesGcm(payload[..payloadLength]);
        PeerKey remote = noise.RemoteStatic!;
        // The caller's judgement first (it knows where the expected key came from and says so), then
        // the expected key itself, which this core enforces whatever the caller decides.
        string? refusal = _authorize(remote)
            ?? (_expected is not null && !remote.Equals(_expected) ? $"the peer proved the key {remote}, but {_expected} was expected" : null);
        if (refusal is not null)
        {
            Fail(refusal, keyRefused: true);
            return;
        }
        if (noise.Pattern == NoisePattern.XX)
        {
            Span<byte> third = stackalloc byte[NoiseHandshakeState.MaxMessageLength(_payload.Length)];
            int length = noise.WriteMessage(_payload, third);
            Send(HandshakeFrame.Build(HandshakeFrameKind.Xx3, third[..length]), now);
        }
        // Until the responder's verdict arrives, our last message is what we repeat.
        Keys(noise, now);
    }

    private void ResponderReceived(HandshakeFrameKind kind, ReadOnlySpan<byte> frame, ReadOnlySpan<byte> message, TimeSpan now)
    {
        switch (kind)
        {
            case HandshakeFrameKind.Ik1 or HandshakeFrameKind.Xx1 when _firstReceived is not null && frame.SequenceEqual(_firstReceived):
                // A repeat: our answer (and verdict) was lost.
                Repeat();
                return;
            case HandshakeFrameKind.Ik1 or HandshakeFrameKind.Xx1 when Crypto is not null:
                Drop(); // one session per handshake; a new first message after the keys is someone else's
                return;
            case HandshakeFrameKind.Ik1:
            {
                using var attempt = new NoiseHandshakeState(NoisePattern.IK, false, _prologue, _identity.Key, ephemeral: _ephemeral);
                Span<byte> payload = stackalloc byte[message.Length];
                if (!attempt.ReadMessage(message, payload, out _))
                {
                    Drop();
                    _frames.Enqueue(HandshakeFrame.Build(HandshakeFrameKind.IkRejected, []));
                    return;
                }
                _noise?.Dispose();
                _noise = new NoiseHandshakeState(NoisePattern.IK, false, _prologue, _identity.Key, ephemeral: _ephemeral);
                _noise.ReadMessage(message, payload, out int payloadLength);
                _peerOffersAesGcm = HandshakePayload.ReadsOfferOfAesGcm(payload[..payloadLength]);
                Span<byte> second = stackalloc byte[NoiseHandshakeState.MaxMessageLength(_payload.Length)];
                int length = _noise.WriteMessage(_payload, second);
                _firstReceived = frame.ToArray();
                _answer = HandshakeFrame.Build(HandshakeFrameKind.Ik2, second[..length]);
                _frames.Enqueue(_answer);
                Keys(_noise, now);
                return;
            }
            case HandshakeFrameKind.Xx1:
            {
                if (message.Length != NoiseHandshakeState.DhLength)
                {
                    Drop();
                    return;
                }
                // A new first message (the initiator started over, e.g. after IkRejected): a new attempt.
                _ephemeral = NewEphemeral();
                _firstReceived = frame.ToArray();
                RebuildResponderXx();
                _lastSent = _answer;
                _frames.Enqueue(_answer!);
                _interval = _options.Retransmit;
                _nextRetransmit = now + _interval;
                return;
            }
            case HandshakeFrameKind.Xx3 when Crypto is not null:
                Repeat();
                return;
            case HandshakeFrameKind.Xx3 when _noise is { Pattern: NoisePattern.XX, IsOurTurn: false } noise:
            {
                Span<byte> payload = stackalloc byte[message.Length];
                if (!noise.ReadMessage(message, payload, out int payloadLength))
                {
                    Drop();
                    RebuildResponderXx();
                    return;
                }
                _peerOffersAesGcm = HandshakePayload.ReadsOfferOfAesGcm(payload[..payloadLength]);
                _nextRetransmit = null;
                _lastSent = null;
                Keys(noise, now);
                return;
            }
            default:
                Drop();
                return;
        }
    }

    /// <summary>This side has the transport keys; the responder now judges the initiator's key.</summary>
    private void Keys(NoiseHandshakeState noise, TimeSpan now)
    {
        (byte[] send, byte[] receive) = noise.Split();
        PeerKey remote = noise.RemoteStatic!;
        // Both sides know both offers by now (IK: messages 1 and 2; XX: 2 and 3), so they agree.
        TransportCipher cipher = _peerOffersAesGcm && HandshakePayload.ReadsOfferOfAesGcm(_payload)
            ? TransportCipher.Aes256Gcm : TransportCipher.ChaCha20Poly1305;
        Crypto = new SessionCrypto(send, receive, remote, now, _options.Crypto, cipher);
        // Nothing reads or writes a handshake message from here on (repeats are answered from the cache):
        // the handshake's secrets go now, not with the session. That is also two guarded libsodium
        // allocations (8 KiB resident each) less per session.
        noise.Dispose();
        CryptographicOperations.ZeroMemory(_ephemeral);
        if (_initiator)
        {
            return;
        }
        string? refusal = _authorize(remote);
        _verdict = refusal is null
            ? (SessionMessageType.Accept, [])
            : (SessionMessageType.Refuse, Encoding.UTF8.GetBytes("our key is not among the keys it accepts"));
        _sealed.Enqueue(_verdict.Value);
        Outcome = refusal is null
            ? new HandshakeOutcome.Established(remote, noise.Pattern.ToString())
            : new HandshakeOutcome.Failed(refusal, KeyRefused: true);
    }

    private void Repeat()
    {
        // IK's answer carries the keys, so it is repeated for ever; XX's second message only until the third arrived.
        if (_answer is not null && (_noise?.Pattern == NoisePattern.IK || Crypto is null))
        {
            _frames.Enqueue(_answer);
        }
        if (_verdict is { } verdict)
        {
            _sealed.Enqueue(verdict);
        }
    }

    private void Begin(NoisePattern pattern, TimeSpan now)
    {
        _noise?.Dispose();
        _noise = new NoiseHandshakeState(pattern, true, _prologue, _identity.Key, _expected, _ephemeral);
        // XX's first message is the bare ephemeral key, in clear (responders check its length): no payload.
        ReadOnlySpan<byte> payload = pattern == NoisePattern.IK ? _payload : [];
        Span<byte> first = stackalloc byte[NoiseHandshakeState.MaxMessageLength(payload.Length)];
        int length = _noise.WriteMessage(payload, first);
        _interval = _options.Retransmit;
        Send(HandshakeFrame.Build(pattern == NoisePattern.IK ? HandshakeFrameKind.Ik1 : HandshakeFrameKind.Xx1, first[..length]), now);
    }

    /// <summary>The initiator after a forged answer: the same first message again, same ephemeral, same bytes.</summary>
    private void Rebuild(TimeSpan now)
    {
        NoisePattern pattern = _noise!.Pattern;
        byte[]? last = _lastSent;
        TimeSpan? due = _nextRetransmit;
        TimeSpan interval = _interval;
        Begin(pattern, now);
        _frames.Clear(); // nothing new to send: the repeat stays on its schedule
        (_lastSent, _nextRetransmit, _interval) = (last, due, interval);
    }

    /// <summary>The responder's XX state after reading the stored first message and writing its answer.</summary>
    private void RebuildResponderXx()
    {
        _noise?.Dispose();
        _noise = new NoiseHandshakeState(NoisePattern.XX, false, _prologue, _identity.Key, ephemeral: _ephemeral);
        Span<byte> scratch = stackalloc byte[64];
        _noise.ReadMessage(_firstReceived.AsSpan(HandshakeFrame.HeaderLength), scratch, out _);
        Span<byte> second = stackalloc byte[NoiseHandshakeState.MaxMessageLength(_payload.Length)];
        int length = _noise.WriteMessage(_payload, second);
        _answer = HandshakeFrame.Build(HandshakeFrameKind.Xx2, second[..length]);
    }

    private void Send(byte[] frame, TimeSpan now)
    {
        _lastSent = frame;
        _frames.Enqueue(frame);
        _nextRetransmit = now + _interval;
    }

    private void Fail(string reason, bool keyRefused)
    {
        Outcome = new HandshakeOutcome.Failed(reason, keyRefused);
        _nextRetransmit = null;
    }

    private void Drop() => Interlocked.Increment(ref _dropped);

    private static byte[] NewEphemeral()
    {
        using var key = Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return key.Export(KeyBlobFormat.RawPrivateKey);
    }

    private static TimeSpan? WakeUpEarliest(TimeSpan? a, TimeSpan b) => a is { } x && x < b ? x : b;

    public void Dispose()
    {
        _noise?.Dispose();
        Crypto?.Dispose();
    }
}
