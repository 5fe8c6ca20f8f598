namespace NatPunch.Relay;

/// <summary>Where a <see cref="TurnClientCore"/>'s allocation is in its life.</summary>
public enum TurnClientState
{
    /// <summary>Nothing sent yet.</summary>
    Idle,
    /// <summary>Allocate sent (possibly again after 401/438).</summary>
    Allocating,
    /// <summary>The server granted a relayed address.</summary>
    Allocated,
    /// <summary>Refresh with LIFETIME 0 sent.</summary>
    Closing,
    /// <summary>The allocation is gone (deleted or expired).</summary>
    Closed,
    /// <summary>Allocate failed or the allocation was lost; see <see cref="TurnClientCore.Error"/>.</summary>
    Failed,
}
