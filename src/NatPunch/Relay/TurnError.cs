using NatPunch.Protocol.Stun;

namespace NatPunch.Relay;

/// <summary>A failed TURN request: what kind of failure, the STUN error code (0 for a timeout) and a sentence for people.</summary>
public sealed record TurnError(TurnErrorKind Kind, int Code, string Message)
{
    internal static TurnError FromCode(int code, string reason, TurnOperation operation)
    {
        TurnErrorKind kind = code switch
        {
            StunErrorCode.Unauthorized or StunErrorCode.WrongCredentials => TurnErrorKind.WrongCredentials,
            StunErrorCode.Forbidden => TurnErrorKind.Forbidden,
            StunErrorCode.AllocationQuotaReached => TurnErrorKind.QuotaReached,
            StunErrorCode.InsufficientCapacity => TurnErrorKind.InsufficientCapacity,
            StunErrorCode.AllocationMismatch => TurnErrorKind.AllocationMismatch,
            StunErrorCode.AddressFamilyNotSupported or StunErrorCode.PeerAddressFamilyMismatch => TurnErrorKind.AddressFamily,
            StunErrorCode.StaleNonce => TurnErrorKind.StaleNonce,
            _ => TurnErrorKind.Other,
        };
        string what = kind switch
        {
            TurnErrorKind.WrongCredentials => "the TURN server refused the credentials (wrong username or password)",
            TurnErrorKind.Forbidden => "the TURN server forbids relaying to this peer",
            TurnErrorKind.QuotaReached => "the TURN server's allocation quota is reached",
            TurnErrorKind.InsufficientCapacity => "the TURN server has no capacity left",
            TurnErrorKind.AllocationMismatch => "the TURN server has no matching allocation",
            TurnErrorKind.AddressFamily => "the TURN server does not support this address family",
            TurnErrorKind.StaleNonce => "the TURN server kept answering Stale Nonce",
            _ => "the TURN server refused the request",
        };
        return new TurnError(kind, code, $"{operation} failed: {what} ({code} {reason})");
    }

    internal static TurnError TimedOut(TurnOperation operation, int sends) =>
        new(TurnErrorKind.Timeout, 0, $"{operation} failed: no response from the TURN server after {sends} send(s) (unreachable)");

    internal static TurnError Malformed(TurnOperation operation, string what) =>
        new(TurnErrorKind.MalformedResponse, 0, $"{operation} failed: {what}");

    /// <summary>The message.</summary>
    public override string ToString() => Message;
}
