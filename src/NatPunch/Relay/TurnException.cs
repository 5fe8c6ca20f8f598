namespace NatPunch.Relay;

/// <summary>A TURN request failed; <see cref="Error"/> says how.</summary>
public sealed class TurnException(TurnError error) : Exception(error.Message)
{
    /// <summary>The failure.</summary>
    public TurnError Error { get; } = error;
}
