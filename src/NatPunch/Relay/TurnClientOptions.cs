using NatPunch.Stun;

namespace NatPunch.Relay;

/// <summary>How a <see cref="TurnClientCore"/> talks to its TURN server.</summary>
public sealed record TurnClientOptions
{
    /// <summary>RFC defaults: RFC 8489 §6.2.1 retransmissions, refresh at 75 % of the lifetime.</summary>
    public static TurnClientOptions Default { get; } = new();

    /// <summary>Retransmission schedule of each request (RFC 8489 §6.2.1); over TCP only its reliable timeout.</summary>
    public StunRetransmissionOptions Retransmission { get; init; } = StunRetransmissionOptions.Default;

    /// <summary>
    /// True when the transport to the server is a stream (TCP): requests are not retransmitted
    /// (RFC 8489 §6.2.2) and ChannelData is padded to a multiple of four bytes (RFC 8656 §12.5).
    /// </summary>
    public bool Reliable { get; init; }

    /// <summary>REQUESTED-ADDRESS-FAMILY for the relay (<see cref="Protocol.Turn.RequestedAddressFamily"/>); null to omit it (IPv4).</summary>
    public byte? RequestedAddressFamily { get; init; }

    /// <summary>LIFETIME asked for in Allocate and Refresh; null lets the server choose (600 s by default, RFC 8656 §7.2).</summary>
    public TimeSpan? RequestedLifetime { get; init; }

    /// <summary>The allocation is refreshed when this fraction of its lifetime has passed.</summary>
    public double RefreshFraction { get; init; } = 0.75;

    /// <summary>Permissions last 300 s (RFC 8656 §9); they are refreshed this often.</summary>
    public TimeSpan PermissionRefreshInterval { get; init; } = TimeSpan.FromMinutes(4);

    /// <summary>Channel bindings last 600 s (RFC 8656 §12); they are refreshed this often.</summary>
    public TimeSpan ChannelRefreshInterval { get; init; } = TimeSpan.FromMinutes(9);

    /// <summary>How many 438 Stale Nonce answers one request may get before it fails.</summary>
    public int MaxStaleNonceRetries { get; init; } = 3;

    /// <summary>The first channel number tried (RFC 8656 §12: 0x4000–0x4FFF).</summary>
    public ushort FirstChannel { get; init; } = 0x4000;
}
