namespace NatPunch.Security;

/// <summary>When the transport keys are replaced (Noise §11.3 rekey): by time and by message count, whichever comes first.</summary>
public sealed record SessionCryptoOptions
{
    public static SessionCryptoOptions Default { get; } = new();

    /// <summary>A sender moves to the next key after this long.</summary>
    public TimeSpan RekeyAfter { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A sender moves to the next key after this many datagrams under one key (far below the 2^64 nonces).</summary>
    public ulong RekeyAfterMessages { get; init; } = 1UL << 32;
}
