using System.Security.Cryptography;
using NSec.Cryptography;

namespace NatPunch.Security.Internal;

/// <summary>
/// The Noise HandshakeState (§5.3) for XX and IK over X25519, ChaChaPoly and SHA-256, without PSKs.
/// Messages are written and read in turn; after the last one, <see cref="Split"/> gives the
/// transport keys. A message that does not authenticate makes <see cref="ReadMessage"/> return
/// false and leaves the handshake unusable (the caller starts over or gives up).
/// </summary>
internal sealed class NoiseHandshakeState : IDisposable
{
    public const int DhLength = 32;
    private static readonly KeyAgreementAlgorithm X25519 = KeyAgreementAlgorithm.X25519;

    private readonly NoiseSymmetricState _symmetric;
    private readonly NoiseToken[][] _messages;
    private readonly bool _initiator;
    private readonly Key _static;
    private Key? _ephemeral;
    private PublicKey? _remoteStatic;
    private PublicKey? _remoteEphemeral;
    private readonly Func<Key> _newEphemeral;
    private int _next;
    private bool _broken;

    /// <param name="remoteStatic">The responder's static key, for IK's pre-message (initiator only; a responder learns it from itself).</param>
    /// <param name="ephemeral">Fixed ephemeral key, for the published test vectors only.</param>
    public NoiseHandshakeState(NoisePattern pattern, bool initiator, ReadOnlySpan<byte> prologue, Key localStatic,
        PeerKey? remoteStatic = null, ReadOnlySpan<byte> ephemeral = default)
    {
        Pattern = pattern;
        _initiator = initiator;
        _static = localStatic;
        _messages = NoisePatterns.Messages(pattern);
        _symmetric = new NoiseSymmetricState(NoisePatterns.ProtocolName(pattern));
        byte[]? fixedEphemeral = ephemeral.IsEmpty ? null : ephemeral.ToArray();
        _newEphemeral = fixedEphemeral is null
            ? () => Key.Create(X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport })
            : () => Key.Import(X25519, fixedEphemeral, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        _symmetric.MixHash(prologue);
        if (pattern == NoisePattern.IK)
        {
            // Pre-message "<- s": both sides hash the responder's static key.
            if (initiator)
            {
                _remoteStatic = PublicKey.Import(X25519, (remoteStatic ?? throw new ArgumentNullException(nameof(remoteStatic))).Bytes, KeyBlobFormat.RawPublicKey);
                _symmetric.MixHash(remoteStatic.Bytes);
            }
            else
            {
                _symmetric.MixHash(localStatic.PublicKey.Export(KeyBlobFormat.RawPublicKey));
            }
        }
    }

    public NoisePattern Pattern { get; }

    public bool IsComplete => _next == _messages.Length && !_broken;

    /// <summary>Whether the next message is ours to write.</summary>
    public bool IsOurTurn => _next < _messages.Length && (_next % 2 == 0) == _initiator;

    /// <summary>The remote static key, once a message has carried it (or IK's pre-message gave it).</summary>
    public PeerKey? RemoteStatic => _remoteStatic is null ? null : PeerKey.FromBytes(_remoteStatic.Export(KeyBlobFormat.RawPublicKey));

    public ReadOnlySpan<byte> HandshakeHash => _symmetric.HandshakeHash;

    /// <summary>The largest message with <paramref name="payloadLength"/> bytes of payload.</summary>
    public static int MaxMessageLength(int payloadLength) => 2 * DhLength + 2 * NoiseCipherState.TagLength + payloadLength + NoiseCipherState.TagLength;

    /// <summary>Writes our next message into <paramref name="destination"/>; returns its length.</summary>
    public int WriteMessage(ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        if (!IsOurTurn || _broken)
        {
            throw new InvalidOperationException("Not this side's turn to write a handshake message.");
        }
        int at = 0;
        foreach (NoiseToken token in _messages[_next])
        {
            switch (token)
            {
                case NoiseToken.E:
                    _ephemeral = _newEphemeral();
                    byte[] e = _ephemeral.PublicKey.Export(KeyBlobFormat.RawPublicKey);
                    e.CopyTo(destination[at..]);
                    at += e.Length;
                    _symmetric.MixHash(e);
                    break;
                case NoiseToken.S:
                    at += _symmetric.EncryptAndHash(_static.PublicKey.Export(KeyBlobFormat.RawPublicKey), destination[at..]);
                    break;
                default:
                    if (!MixDh(token))
                    {
                        _broken = true;
                        throw new CryptographicException("The peer's key gives no shared secret.");
                    }
                    break;
            }
        }
        at += _symmetric.EncryptAndHash(payload, destination[at..]);
        _next++;
        return at;
    }

    /// <summary>Reads the peer's next message; false (and the handshake is over) if it does not authenticate or is malformed.</summary>
    public bool ReadMessage(ReadOnlySpan<byte> message, Span<byte> payload, out int payloadLength)
    {
        payloadLength = 0;
        if (IsOurTurn || _broken || _next >= _messages.Length)
        {
            return false;
        }
        int at = 0;
        Span<byte> key = stackalloc byte[DhLength];
        foreach (NoiseToken token in _messages[_next])
        {
            switch (token)
            {
                case NoiseToken.E:
                    if (message.Length - at < DhLength || !PublicKey.TryImport(X25519, message.Slice(at, DhLength), KeyBlobFormat.RawPublicKey, out _remoteEphemeral))
                    {
                        return Break();
                    }
                    _symmetric.MixHash(message.Slice(at, DhLength));
                    at += DhLength;
                    break;
                case NoiseToken.S:
                    int length = DhLength + (_symmetric.HasKey ? NoiseCipherState.TagLength : 0);
                    if (message.Length - at < length || !_symmetric.DecryptAndHash(message.Slice(at, length), key, out _)
                        || !PublicKey.TryImport(X25519, key, KeyBlobFormat.RawPublicKey, out _remoteStatic))
                    {
                        return Break();
                    }
                    at += length;
                    break;
                default:
                    if (!MixDh(token))
                    {
                        return Break();
                    }
                    break;
            }
        }
        if (!_symmetric.DecryptAndHash(message[at..], payload, out payloadLength))
        {
            return Break();
        }
        _next++;
        return true;
    }

    /// <summary>The transport keys, once the handshake is complete: (ours to send with, ours to receive with).</summary>
    public (byte[] Send, byte[] Receive) Split()
    {
        if (!IsComplete)
        {
            throw new InvalidOperationException("The handshake is not complete.");
        }
        (byte[] first, byte[] second) = _symmetric.Split();
        return _initiator ? (first, second) : (second, first);
    }

    private bool Break()
    {
        _broken = true;
        return false;
    }

    private bool MixDh(NoiseToken token)
    {
        // "es" is DH(initiator's e, responder's s); each side uses its own half of the pair.
        (Key? local, PublicKey? remote) = token switch
        {
            NoiseToken.EE => (_ephemeral, _remoteEphemeral),
            NoiseToken.ES => _initiator ? (_ephemeral, _remoteStatic) : (_static, _remoteEphemeral),
            NoiseToken.SE => _initiator ? (_static, _remoteEphemeral) : (_ephemeral, _remoteStatic),
            NoiseToken.SS => (_static, _remoteStatic),
            _ => throw new ArgumentOutOfRangeException(nameof(token)),
        };
        if (local is null || remote is null)
        {
            return false;
        }
        SharedSecret? secret;
        try
        {
            secret = X25519.Agree(local, remote, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        }
        catch (CryptographicException)
        {
            return false; // a low-order point: no shared secret
        }
        if (secret is null)
        {
            return false;
        }
        using (secret)
        {
            byte[] dh = secret.Export(SharedSecretBlobFormat.RawSharedSecret);
            _symmetric.MixKey(dh);
            CryptographicOperations.ZeroMemory(dh);
        }
        return true;
    }

    public void Dispose()
    {
        _ephemeral?.Dispose();
        _symmetric.Dispose();
    }
}
