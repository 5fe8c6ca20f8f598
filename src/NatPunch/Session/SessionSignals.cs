using NatPunch.Protocol.Rendezvous;
using NatPunch.Rendezvous;
using NatPunch.Security;

namespace NatPunch.Session;

/// <summary>
/// What the two peers of one session tell each other through the rendezvous server: restarts and
/// trickled candidates. Once the session has keys, they go sealed (<see cref="SealedSignalMessage"/>,
/// <see cref="SignalCrypto"/>) and only sealed ones are believed: the server, or whoever impersonates
/// it, can then neither read them nor make a peer restart or probe an address it chose. Before the
/// handshake (the first punching) there are no keys, and candidates go as they are; what they can
/// cause is bounded by the candidate caps and by the handshake on the selected path. Around the
/// handshake one side has keys a round trip before the other (IK's responder), so plain candidates
/// are still taken while <paramref name="plainCandidatesWelcome"/> says so (a grace after the session
/// is established); a plain restart never is once there are keys.
/// </summary>
internal sealed class SessionSignals(ISignalingChannel rendezvous, string session, Func<SignalCrypto?> crypto, Func<bool>? plainCandidatesWelcome = null)
{
    private long _refused;

    /// <summary>Plain restarts or candidates that arrived after the session had keys, and sealed ones that did not open.</summary>
    public long Refused => Interlocked.Read(ref _refused) + (crypto()?.Refused ?? 0);

    /// <summary>
    /// Sends a <see cref="RestartMessage"/> or <see cref="CandidateMessage"/>, sealed once there are keys
    /// unless <paramref name="plain"/> (a candidate during the grace, when the peer may have no keys yet).
    /// </summary>
    public Task SendAsync(RendezvousMessage message, bool plain, CancellationToken cancellationToken)
    {
        if (!plain && crypto() is { } keys)
        {
            message = new SealedSignalMessage(session, keys.Seal(RendezvousCodec.EncodeJson(message), session));
        }
        return rendezvous.SendSessionMessageAsync(message, cancellationToken);
    }

    /// <summary>
    /// What <paramref name="received"/> means for the session: a sealed restart or candidate opened, a
    /// plain one before there are keys, or what the server itself says (peer-gone, error). Null: refused.
    /// </summary>
    public RendezvousMessage? Open(RendezvousMessage received)
    {
        SignalCrypto? keys = crypto();
        switch (received)
        {
            case SealedSignalMessage box when keys is not null:
                if (!keys.TryOpen(box.Box, session, out byte[] json))
                {
                    return null; // counted by the crypto
                }
                if (!RendezvousCodec.TryDecode(json, out RendezvousMessage inner, out _))
                {
                    Interlocked.Increment(ref _refused); // sealed by the peer, but not a message
                    return null;
                }
                string? about = inner switch { RestartMessage r => r.Session, CandidateMessage c => c.Session, _ => null };
                if (about != session)
                {
                    Interlocked.Increment(ref _refused); // sealed by the peer, but nothing a peer should send this way
                    return null;
                }
                return inner;
            case CandidateMessage when keys is not null && plainCandidatesWelcome?.Invoke() == true:
                return received; // the peer may not have its keys yet
            case RestartMessage or CandidateMessage when keys is not null:
                Interlocked.Increment(ref _refused); // the peer seals these once there are keys: this is not the peer
                return null;
            case SealedSignalMessage:
                Interlocked.Increment(ref _refused); // no keys yet to open it with
                return null;
            default:
                return received;
        }
    }
}
