namespace NatPunch.Security;

/// <summary>Timing of the handshake on the selected path.</summary>
public sealed record SessionHandshakeOptions
{
    public static SessionHandshakeOptions Default { get; } = new();

    /// <summary>First retransmission of an unanswered handshake message; doubles up to <see cref="MaxRetransmit"/>.</summary>
    public TimeSpan Retransmit { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxRetransmit { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The handshake fails when it has not completed this long after it began.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    public SessionCryptoOptions Crypto { get; init; } = SessionCryptoOptions.Default;
}
