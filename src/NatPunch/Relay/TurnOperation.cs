namespace NatPunch.Relay;

/// <summary>The TURN requests a <see cref="TurnClientCore"/> makes (RFC 8656 §7–§12).</summary>
public enum TurnOperation
{
    /// <summary>Allocate (RFC 8656 §7.1).</summary>
    Allocate,
    /// <summary>Refresh with a non-zero lifetime (RFC 8656 §8).</summary>
    Refresh,
    /// <summary>CreatePermission (RFC 8656 §9).</summary>
    CreatePermission,
    /// <summary>ChannelBind (RFC 8656 §12.1).</summary>
    ChannelBind,
    /// <summary>Refresh with LIFETIME 0, deleting the allocation (RFC 8656 §8).</summary>
    Close,
}
