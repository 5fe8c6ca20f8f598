namespace NatPunch.Stun;

/// <summary>
/// What a <see cref="StunClientTransaction"/> asks of its driver after a poll: a datagram to send now
/// (empty if none), when to poll it next, and its state.
/// </summary>
/// <param name="Datagram">The request to (re)send now, or empty.</param>
/// <param name="NextWakeUp">When to poll again; null once the transaction has finished.</param>
/// <param name="State">The state after the poll.</param>
public readonly record struct StunTransactionStep(ReadOnlyMemory<byte> Datagram, TimeSpan? NextWakeUp, StunTransactionState State)
{
    public bool ShouldSend => !Datagram.IsEmpty;
}
