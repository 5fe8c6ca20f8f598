using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Stun;

/// <summary>
/// What a STUN server answered to one request: the success or error response with the attributes
/// a client acts on (RFC 8489 §14, RFC 5780 §7), plus where and when it arrived.
/// </summary>
public sealed record StunResponse
{
    public required TransactionId TransactionId { get; init; }

    /// <summary>True for a success response, false for an error response (RFC 8489 §6.3.4).</summary>
    public required bool IsSuccess { get; init; }

    /// <summary>
    /// The reflexive transport address: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (RFC 8489 §14.1–§14.2).
    /// Null if the response carried neither.
    /// </summary>
    public IPEndPoint? MappedAddress { get; init; }

    /// <summary>RESPONSE-ORIGIN (RFC 5780 §7.3), else the RFC 3489 SOURCE-ADDRESS.</summary>
    public IPEndPoint? ResponseOrigin { get; init; }

    /// <summary>
    /// OTHER-ADDRESS (RFC 5780 §7.4), else the RFC 3489 CHANGED-ADDRESS: the server's alternate
    /// IP and port. Its presence is how a client learns the server supports NAT behaviour discovery.
    /// </summary>
    public IPEndPoint? OtherAddress { get; init; }

    /// <summary>ERROR-CODE of an error response (RFC 8489 §14.8); null for a success.</summary>
    public int? ErrorCode { get; init; }

    public string? ErrorReason { get; init; }

    /// <summary>SOFTWARE (RFC 8489 §14.14), if the server sent it.</summary>
    public string? Software { get; init; }

    /// <summary>The address the response datagram came from (over UDP), or the TCP peer.</summary>
    public IPEndPoint? From { get; init; }

    /// <summary>The local socket address it arrived on.</summary>
    public IPEndPoint? ReceivedOn { get; init; }

    /// <summary>Time from the last send of the request to the response.</summary>
    public TimeSpan RoundTripTime { get; init; }

    /// <summary>How many times the request was sent before this response came.</summary>
    public int SendCount { get; init; }

    /// <summary>
    /// True when the request was retransmitted, so the response may answer an earlier send and
    /// <see cref="RoundTripTime"/> is not a clean sample (Karn's algorithm, RFC 8489 §6.2.1).
    /// </summary>
    public bool IsRoundTripTimeAmbiguous => SendCount > 1;

    /// <summary>Reads the attributes of an already-validated response message. Never throws.</summary>
    internal static StunResponse FromMessage(scoped in StunMessage message, IPEndPoint? from, TimeSpan roundTripTime, int sendCount)
    {
        bool success = message.Type.Class == StunClass.SuccessResponse;
        int? code = null;
        string? reason = null;
        if (!success && message.TryGetErrorCode(out int errorCode, out string errorReason))
        {
            code = errorCode;
            reason = errorReason;
        }
        return new StunResponse
        {
            TransactionId = message.TransactionId,
            IsSuccess = success,
            MappedAddress = message.TryGetMappedAddress(out IPEndPoint mapped) ? mapped : null,
            ResponseOrigin = ReadAddress(message, StunAttributeType.ResponseOrigin, StunAttributeType.SourceAddress),
            OtherAddress = ReadAddress(message, StunAttributeType.OtherAddress, StunAttributeType.ChangedAddress),
            ErrorCode = success ? null : code ?? 0,
            ErrorReason = reason,
            Software = message.TryGetString(StunAttributeType.Software, out string software) ? software : null,
            From = from,
            RoundTripTime = roundTripTime,
            SendCount = sendCount,
        };
    }

    private static IPEndPoint? ReadAddress(scoped in StunMessage message, ushort type, ushort fallbackType) =>
        message.TryGetAddress(type, out IPEndPoint address) || message.TryGetAddress(fallbackType, out address)
            ? address
            : null;

    public override string ToString() => IsSuccess
        ? $"success, mapped {MappedAddress?.ToString() ?? "(none)"}, rtt {RoundTripTime.TotalMilliseconds:0.#} ms"
        : $"error {ErrorCode} {ErrorReason}";
}
