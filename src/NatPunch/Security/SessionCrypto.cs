using System.Buffers.Binary;
using NatPunch.Security.Internal;

namespace NatPunch.Security;

/// <summary>
/// The transport half of a session after the Noise handshake: seals every session datagram
/// (<see cref="SealedFrame"/>) and opens what the peer sealed, with an RFC 6479 replay window and
/// rekeying by time and by count that needs no round trip: the sender moves to REKEY(k) and says
/// so with the next epoch number; the receiver derives the same key when it first sees that epoch
/// and keeps the previous one for datagrams still in flight. A forged, replayed, truncated or
/// stale datagram is refused and counted; it changes no state.
/// <para>Sealing is safe from any thread; opening takes the receive lock.</para>
/// </summary>
public sealed class SessionCrypto : IDisposable
{
    private readonly SessionCryptoOptions _options;

    // Guards the send state below: the key in use, its epoch, its next counter and when it began.
    private readonly Lock _sendLock = new();
    private NoiseTransportCipher _send;
    // The key before _send: a sender thread may still be sealing with it while we rekey.
    private NoiseTransportCipher? _sendRetired;
    private byte _sendEpoch;
    private ulong _sendCounter;
    private TimeSpan _sendEpochStarted;

    // Guards the receive state below.
    private readonly Lock _receiveLock = new();
    private ReceiveEpoch _current;
    private ReceiveEpoch? _previous;
    private NoiseTransportCipher? _nextReceive;

    private long _refused;

    private sealed record ReceiveEpoch(byte Epoch, NoiseTransportCipher Cipher, ReplayWindow Window);

    internal SessionCrypto(byte[] sendKey, byte[] receiveKey, PeerKey remoteKey, TimeSpan now, SessionCryptoOptions? options = null,
        TransportCipher cipher = TransportCipher.ChaCha20Poly1305)
    {
        _options = options ?? SessionCryptoOptions.Default;
        Signals = new SignalCrypto(sendKey, receiveKey); // before the ciphers below take (and wipe) the keys
        _send = new NoiseTransportCipher(sendKey, cipher);
        _sendEpochStarted = now;
        _current = new ReceiveEpoch(0, new NoiseTransportCipher(receiveKey, cipher), new ReplayWindow());
        RemoteKey = remoteKey;
        Cipher = cipher;
        _rekeyAfterMessages = Math.Min(_options.RekeyAfterMessages, cipher == TransportCipher.Aes256Gcm ? AesGcmMessagesPerKey : ulong.MaxValue);
    }

    /// <summary>
    /// AES-GCM's confidentiality limit as QUIC sets it (RFC 9001 §6.6: 2^23 packets per key, for
    /// packets of any size up to 64 KB); ChaCha20-Poly1305's (2^62) is far beyond the options' default.
    /// </summary>
    private const ulong AesGcmMessagesPerKey = 1UL << 23;

    private readonly ulong _rekeyAfterMessages;

    /// <summary>The AEAD the two sides agreed on in the handshake.</summary>
    public TransportCipher Cipher { get; }

    /// <summary>Seals what the peers tell each other through the rendezvous from now on (restarts, candidates).</summary>
    public SignalCrypto Signals { get; }

    /// <summary>The peer's proven long-term key.</summary>
    public PeerKey RemoteKey { get; }

    /// <summary>Datagrams refused: forged, replayed, truncated, from an unknown epoch.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>The send epoch (how many rekeys so far, mod 256).</summary>
    public byte SendEpoch
    {
        get
        {
            lock (_sendLock)
            {
                return _sendEpoch;
            }
        }
    }

    /// <summary>Seals a message of <paramref name="type"/> into <paramref name="destination"/> (body + <see cref="SealedFrame.Overhead"/> bytes); returns the length.</summary>
    public int Seal(SessionMessageType type, ReadOnlySpan<byte> body, Span<byte> destination, TimeSpan now)
    {
        NoiseTransportCipher cipher;
        byte epoch;
        ulong counter;
        lock (_sendLock)
        {
            if (_sendCounter >= _rekeyAfterMessages || now - _sendEpochStarted >= _options.RekeyAfter)
            {
                _sendRetired?.Dispose();
                _sendRetired = _send;
                _send = _send.Rekey();
                _sendEpoch++;
                _sendCounter = 0;
                _sendEpochStarted = now;
            }
            cipher = _send;
            epoch = _sendEpoch;
            counter = _sendCounter++;
        }
        destination[0] = SealedFrame.Marker;
        destination[1] = epoch;
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], counter);
        // The message is laid out where its ciphertext goes and encrypted in place: no scratch copy.
        Span<byte> message = destination.Slice(SealedFrame.HeaderLength, body.Length + 1);
        message[0] = (byte)type;
        body.CopyTo(message[1..]);
        return SealedFrame.HeaderLength + cipher.Seal(counter, destination[..SealedFrame.HeaderLength], message, destination[SealedFrame.HeaderLength..]);
    }

    /// <summary>
    /// Opens a sealed datagram into <paramref name="destination"/> (at least the frame's length less header and tag):
    /// the message type and the body's length; the body is at <c>destination[1..]</c>. False, counted, for anything that does not authenticate
    /// or was seen before.
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> frame, Span<byte> destination, out SessionMessageType type, out int bodyLength)
    {
        type = default;
        bodyLength = 0;
        if (!SealedFrame.LooksSealed(frame))
        {
            return Refuse();
        }
        byte epoch = frame[1];
        ulong counter = BinaryPrimitives.ReadUInt64BigEndian(frame[2..]);
        ReadOnlySpan<byte> header = frame[..SealedFrame.HeaderLength];
        ReadOnlySpan<byte> ciphertext = frame[SealedFrame.HeaderLength..];
        int length;
        lock (_receiveLock)
        {
            if (epoch == _current.Epoch || (_previous is not null && epoch == _previous.Epoch))
            {
                ReceiveEpoch target = epoch == _current.Epoch ? _current : _previous!;
                if (!target.Window.CanAccept(counter) || !target.Cipher.TryOpen(counter, header, ciphertext, destination, out length))
                {
                    return Refuse();
                }
                target.Window.Accept(counter);
            }
            else if (epoch == (byte)(_current.Epoch + 1))
            {
                _nextReceive ??= _current.Cipher.Rekey();
                if (!_nextReceive.TryOpen(counter, header, ciphertext, destination, out length))
                {
                    return Refuse();
                }
                // The peer has moved on: the epoch before last is gone for good (forward secrecy).
                _previous?.Cipher.Dispose();
                _previous = _current;
                _current = new ReceiveEpoch(epoch, _nextReceive, new ReplayWindow());
                _nextReceive = null;
                _current.Window.Accept(counter);
            }
            else
            {
                return Refuse();
            }
        }
        if (length < 1)
        {
            return Refuse();
        }
        type = (SessionMessageType)destination[0];
        bodyLength = length - 1;
        return true;
    }

    private bool Refuse()
    {
        Interlocked.Increment(ref _refused);
        return false;
    }

    public void Dispose()
    {
        Signals.Dispose();
        lock (_sendLock)
        {
            _send.Dispose();
            _sendRetired?.Dispose();
        }
        lock (_receiveLock)
        {
            _current.Cipher.Dispose();
            _previous?.Cipher.Dispose();
            _nextReceive?.Dispose();
        }
    }
}
