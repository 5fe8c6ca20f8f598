using System.Net;

namespace NatPunch.Stun;

/// <summary>Settings of a <see cref="StunClient"/>.</summary>
public sealed record StunClientOptions
{
    public static StunClientOptions Default { get; } = new();

    /// <summary>
    /// Where to bind the UDP socket. Null (the default) binds an ephemeral port on the IPv6 wildcard
    /// in dual mode where the OS has IPv6, else on 0.0.0.0, so that any destination can be reached.
    /// </summary>
    public IPEndPoint? LocalEndPoint { get; init; }

    /// <summary>The retransmission schedule of each transaction (RFC 8489 §6.2).</summary>
    public StunRetransmissionOptions Retransmission { get; init; } = StunRetransmissionOptions.Default;

    /// <summary>SOFTWARE sent in requests that do not set their own; null sends none.</summary>
    public string? Software { get; init; }
}
