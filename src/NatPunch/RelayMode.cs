namespace NatPunch;

/// <summary>Whether a connection may go through a TURN relay (<c>--relay</c>).</summary>
public enum RelayMode
{
    /// <summary>Try everything at once; prefer a direct path, fall back to the relay, upgrade when direct starts working.</summary>
    Auto,
    /// <summary>Direct paths only: fail when none works.</summary>
    Never,
    /// <summary>Only our relayed candidate is used, so every path goes through the relay.</summary>
    Only,
}
