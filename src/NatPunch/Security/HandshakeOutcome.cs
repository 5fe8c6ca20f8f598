namespace NatPunch.Security;

/// <summary>How a session handshake ended.</summary>
public abstract record HandshakeOutcome
{
    private HandshakeOutcome()
    {
    }

    /// <summary>Both sides hold the keys and the responder accepted the initiator's key.</summary>
    public sealed record Established(PeerKey PeerKey, string Pattern) : HandshakeOutcome;

    /// <summary>No session: a key that does not match, a refusal, or no answer in time. <see cref="Reason"/> says which, naming the keys.</summary>
    public sealed record Failed(string Reason, bool KeyRefused) : HandshakeOutcome;
}
