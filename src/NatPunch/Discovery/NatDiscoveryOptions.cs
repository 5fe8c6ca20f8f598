using System.Net;
using NatPunch.Stun;

namespace NatPunch.Discovery;

/// <summary>Settings of a NAT behaviour discovery run (<see cref="NatDiscovery"/>).</summary>
public sealed record NatDiscoveryOptions
{
    public static NatDiscoveryOptions Default { get; } = new();

    /// <summary>
    /// Retransmissions of each probe. Shorter than the RFC 8489 default because a filtering test
    /// expects silence from a filtering NAT: sends at 0, 0.5, 1.5 and 3.5 s, no answer by 5.5 s means
    /// none is coming; 5 s for the TCP check.
    /// </summary>
    public StunRetransmissionOptions Retransmission { get; init; } = new()
    {
        InitialRto = TimeSpan.FromMilliseconds(500),
        MaxSends = 4,
        FinalWaitMultiplier = 4,
        ReliableTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>
    /// The whole check, the mapping lifetime search excepted, ends within this time; what has not
    /// been answered by then is reported as unknown (or, for the first Binding test, as no UDP).
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Run the hairpinning test (RFC 5780 §4.5).</summary>
    public bool CheckHairpinning { get; init; } = true;

    /// <summary>Send a Binding request over TCP alongside the first UDP test, to tell "UDP blocked" from "server down".</summary>
    public bool CheckTcp { get; init; } = true;

    /// <summary>PADDING (RFC 5780 §7.6) added to the mapping and filtering tests, e.g. <see cref="StunRequest.FullMtuPadding"/>; 0 for none.</summary>
    public int PaddingLength { get; init; }

    /// <summary>Estimate the mapping lifetime (RFC 5780 §4.6) with these settings; null (the default) skips it.</summary>
    public MappingLifetimeOptions? MappingLifetime { get; init; }

    /// <summary>Where to bind the primary socket; an ephemeral port on the wildcard of the server's family if null.</summary>
    public IPEndPoint? LocalEndPoint { get; init; }

    /// <summary>SOFTWARE sent in requests, or null.</summary>
    public string? Software { get; init; }

    public void Validate()
    {
        Retransmission.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Timeout, TimeSpan.Zero, nameof(Timeout));
        ArgumentOutOfRangeException.ThrowIfNegative(PaddingLength, nameof(PaddingLength));
        MappingLifetime?.Validate();
    }
}
