using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using NatPunch.Security.Internal;

namespace NatPunch.Security;

/// <summary>
/// Seals what two peers tell each other through the rendezvous server once their session has keys
/// (ICE restarts, late candidates), so that the server, or whoever took its place, can neither read,
/// forge nor replay them: a restart it makes up is ignored instead of tearing down a working path.
/// <para>
/// Its keys are derived from the session's first transport keys (HMAC-SHA256 with a label of its own,
/// so they are independent of the datagram keys and survive their rekeying); each box carries an
/// explicit 64-bit counter as the ChaChaPoly nonce and the session id as associated data. The server
/// relays a session's messages in order over one TCP connection, so the receiver accepts only a
/// counter above the last one it opened: a replay or a stale box is refused and counted.
/// </para>
/// <para>
/// Signals are rare (a restart, a candidate), so the two keys stay as bytes and a cipher is made for each
/// box: a libsodium key held for the session's life costs a few guarded pages, too much for a node that
/// holds thousands of idle sessions (bench/idle-sessions.sh).
/// </para>
/// <para>Thread-safe: one lock per direction.</para>
/// </summary>
public sealed class SignalCrypto : IDisposable
{
    private static readonly byte[] Label = "natpunch signal v1"u8.ToArray();
    private static readonly byte[] ResumeLabel = "natpunch resume v1"u8.ToArray();

    private readonly byte[] _sendKey;
    private readonly byte[] _receiveKey;
    private readonly Lock _sendLock = new(); // guards _sent
    private readonly Lock _receiveLock = new(); // guards _opened
    private ulong _sent;
    private ulong _opened;
    private long _refused;

    /// <param name="sendKey">Our first transport key (not consumed: the datagram cipher takes it afterwards).</param>
    internal SignalCrypto(ReadOnlySpan<byte> sendKey, ReadOnlySpan<byte> receiveKey)
    {
        _sendKey = HMACSHA256.HashData(sendKey, Label);
        ResumeSeed = HMACSHA256.HashData(sendKey, ResumeLabel);
        _receiveKey = HMACSHA256.HashData(receiveKey, Label);
    }

    /// <summary>
    /// The secret seed of this end's resume chain (<see cref="Protocol.Rendezvous.ResumeChain"/>): from our
    /// sending key, so each end has its own and nobody without the session keys can make it.
    /// </summary>
    internal byte[] ResumeSeed { get; }

    /// <summary>Boxes that did not open: forged, damaged, replayed, or for another session.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Seals <paramref name="plaintext"/> for <paramref name="session"/>: the counter and ciphertext, base64url.</summary>
    public string Seal(ReadOnlySpan<byte> plaintext, string session)
    {
        byte[] box = new byte[8 + plaintext.Length + NoiseTransportCipher.TagLength];
        byte[] ad = AssociatedData(session);
        lock (_sendLock)
        {
            ulong counter = ++_sent;
            BinaryPrimitives.WriteUInt64BigEndian(box, counter);
            using var cipher = new NoiseTransportCipher((byte[])_sendKey.Clone()); // it wipes the copy it is given
            cipher.Seal(counter, ad, plaintext, box.AsSpan(8));
        }
        return System.Buffers.Text.Base64Url.EncodeToString(box);
    }

    /// <summary>Opens a box the peer sealed for <paramref name="session"/>; false (and counted) if it does not open or is not newer than the last.</summary>
    public bool TryOpen(string box, string session, out byte[] plaintext)
    {
        plaintext = [];
        byte[] bytes = new byte[box.Length * 3 / 4 + 3];
        if (!Base64UrlText.TryDecode(box, bytes, out int length) || length < 8 + NoiseTransportCipher.TagLength)
        {
            Interlocked.Increment(ref _refused);
            return false;
        }
        bytes = bytes[..length];
        ulong counter = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        byte[] opened = new byte[bytes.Length - 8 - NoiseTransportCipher.TagLength];
        lock (_receiveLock)
        {
            if (counter <= _opened || !OpenWithReceiveKey(counter, AssociatedData(session), bytes.AsSpan(8), opened))
            {
                Interlocked.Increment(ref _refused);
                return false;
            }
            _opened = counter;
        }
        plaintext = opened;
        return true;
    }

    private bool OpenWithReceiveKey(ulong counter, byte[] ad, ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        using var cipher = new NoiseTransportCipher((byte[])_receiveKey.Clone());
        return cipher.TryOpen(counter, ad, ciphertext, destination, out _);
    }

    private static byte[] AssociatedData(string session) => Encoding.UTF8.GetBytes($"natpunch-signal:{session}");

    public void Dispose()
    {
        lock (_sendLock)
        {
            CryptographicOperations.ZeroMemory(_sendKey);
        }
        lock (_receiveLock)
        {
            CryptographicOperations.ZeroMemory(_receiveKey);
        }
    }
}
