using System.Text;

namespace NatPunch.Protocol.Stun;

/// <summary>
/// ERROR-CODE (RFC 8489 §14.8): 21 reserved bits, the hundreds digit in 3 bits, the remainder
/// (0–99) in 8 bits, then a UTF-8 reason phrase. Codes from RFC 8489 §14.8 and RFC 8656 §18.
/// </summary>
public static class StunErrorCode
{
    public const int TryAlternate = 300;
    public const int BadRequest = 400;
    public const int Unauthorized = 401;
    public const int Forbidden = 403;
    public const int MobilityForbidden = 405;
    public const int UnknownAttribute = 420;
    public const int AllocationMismatch = 437;
    public const int StaleNonce = 438;
    public const int AddressFamilyNotSupported = 440;
    public const int WrongCredentials = 441;
    public const int UnsupportedTransportProtocol = 442;
    public const int PeerAddressFamilyMismatch = 443;
    public const int ConnectionAlreadyExists = 446;
    public const int ConnectionTimeoutOrFailure = 447;
    public const int AllocationQuotaReached = 486;
    public const int RoleConflict = 487;
    public const int ServerError = 500;
    public const int InsufficientCapacity = 508;

    /// <summary>The reason phrase RFC 8489 and RFC 8656 suggest for a code.</summary>
    public static string DefaultReason(int code) => code switch
    {
        TryAlternate => "Try Alternate",
        BadRequest => "Bad Request",
        Unauthorized => "Unauthorized",
        Forbidden => "Forbidden",
        MobilityForbidden => "Mobility Forbidden",
        UnknownAttribute => "Unknown Attribute",
        AllocationMismatch => "Allocation Mismatch",
        StaleNonce => "Stale Nonce",
        AddressFamilyNotSupported => "Address Family not Supported",
        WrongCredentials => "Wrong Credentials",
        UnsupportedTransportProtocol => "Unsupported Transport Protocol",
        PeerAddressFamilyMismatch => "Peer Address Family Mismatch",
        ConnectionAlreadyExists => "Connection Already Exists",
        ConnectionTimeoutOrFailure => "Connection Timeout or Failure",
        AllocationQuotaReached => "Allocation Quota Reached",
        RoleConflict => "Role Conflict",
        ServerError => "Server Error",
        InsufficientCapacity => "Insufficient Capacity",
        _ => "Error",
    };

    public static bool TryRead(ReadOnlySpan<byte> value, out int code, out string reason)
    {
        code = 0;
        reason = string.Empty;
        if (value.Length < 4)
        {
            return false;
        }
        int hundreds = value[2] & 0x07;
        int rest = value[3];
        if (hundreds is < 3 or > 6 || rest > 99)
        {
            return false;
        }
        code = hundreds * 100 + rest;
        reason = Encoding.UTF8.GetString(value[4..]);
        return true;
    }

    /// <summary>Writes the value (not the attribute header); returns bytes written.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The code is not 300–699: RFC 8489 §14.8 allows classes 3 to 6 only.</exception>
    public static int Write(Span<byte> destination, int code, ReadOnlySpan<char> reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(code, 300);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 699);
        destination[0] = 0;
        destination[1] = 0;
        destination[2] = (byte)(code / 100);
        destination[3] = (byte)(code % 100);
        int written = Encoding.UTF8.GetBytes(Shorten(reason), destination[4..]);
        return 4 + written;
    }

    /// <summary>The exact length of the value <see cref="Write"/> produces for <paramref name="reason"/>.</summary>
    public static int ValueLength(ReadOnlySpan<char> reason) => 4 + Encoding.UTF8.GetByteCount(Shorten(reason));

    public static int MaxValueLength(ReadOnlySpan<char> reason) => 4 + Encoding.UTF8.GetMaxByteCount(Shorten(reason).Length);

    /// <summary>
    /// RFC 8489 §14.8: the reason phrase is fewer than 128 characters. Longer ones are cut to 127
    /// UTF-16 code units, or 126 where the cut would split a surrogate pair.
    /// </summary>
    private static ReadOnlySpan<char> Shorten(ReadOnlySpan<char> reason) =>
        reason.Length < 128 ? reason : reason[..(char.IsHighSurrogate(reason[126]) ? 126 : 127)];
}
