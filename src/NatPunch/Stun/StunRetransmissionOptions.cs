namespace NatPunch.Stun;

/// <summary>
/// When a STUN client retransmits a request and when it gives up (RFC 8489 §6.2.1 for UDP,
/// §6.2.2 for TCP). With <see cref="Default"/> a UDP request is sent at 0, 500, 1500, 3500, 7500,
/// 15500 and 31500 ms and the transaction fails at 39500 ms.
/// </summary>
public sealed record StunRetransmissionOptions
{
    /// <summary>The RFC 8489 §6.2.1 defaults: RTO 500 ms, Rc 7, Rm 16; TCP timeout 39.5 s.</summary>
    public static StunRetransmissionOptions Default { get; } = new();

    /// <summary>The first retransmission timeout, RTO (RFC 8489 §6.2.1 recommends 500 ms).</summary>
    public TimeSpan InitialRto { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Upper bound of the doubled RTO; <see cref="TimeSpan.MaxValue"/> (the default) means no bound,
    /// as in RFC 8489 §6.2.1.
    /// </summary>
    public TimeSpan MaxRto { get; init; } = TimeSpan.MaxValue;

    /// <summary>Rc: how many times the request is sent in all, the first send included (RFC 8489 §6.2.1: 7).</summary>
    public int MaxSends { get; init; } = 7;

    /// <summary>Rm: after the last send, wait Rm × <see cref="InitialRto"/> for a response (RFC 8489 §6.2.1: 16).</summary>
    public int FinalWaitMultiplier { get; init; } = 16;

    /// <summary>Over a reliable transport there are no retransmissions, only this timeout (RFC 8489 §6.2.2: 39.5 s).</summary>
    public TimeSpan ReliableTimeout { get; init; } = TimeSpan.FromMilliseconds(39_500);

    /// <summary>Time from the first send to the failure of an unanswered UDP transaction.</summary>
    public TimeSpan UnreliableTimeout
    {
        get
        {
            TimeSpan total = TimeSpan.Zero;
            TimeSpan rto = InitialRto;
            for (int send = 1; send < MaxSends; send++)
            {
                total += rto;
                rto = NextRto(rto);
            }
            return total + InitialRto * FinalWaitMultiplier;
        }
    }

    /// <summary>The RTO after one more retransmission: doubled, at most <see cref="MaxRto"/>.</summary>
    internal TimeSpan NextRto(TimeSpan rto) =>
        rto >= MaxRto / 2 ? MaxRto : rto * 2;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for values no transaction can run with.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(InitialRto, TimeSpan.Zero, nameof(InitialRto));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRto, InitialRto, nameof(MaxRto));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSends, 1, nameof(MaxSends));
        ArgumentOutOfRangeException.ThrowIfNegative(FinalWaitMultiplier, nameof(FinalWaitMultiplier));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ReliableTimeout, TimeSpan.Zero, nameof(ReliableTimeout));
    }
}
