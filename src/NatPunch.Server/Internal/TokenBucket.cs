namespace NatPunch.Server.Internal;

/// <summary>
/// A rate limit: <paramref name="burst"/> at once, then <paramref name="perSecond"/> on average, on the
/// caller's clock: messages (one token each) or bytes (the TURN relay's bandwidth limits). Not
/// thread-safe (its owner's loop or lock guards it).
/// </summary>
internal sealed class TokenBucket(double perSecond, double burst, TimeSpan now)
{
    private readonly double _burst = burst;
    private double _tokens = burst;
    private TimeSpan _at = now;

    /// <summary>Takes one token if there is one.</summary>
    public bool TryTake(TimeSpan now)
    {
        if (!HasRoomFor(1, now))
        {
            return false;
        }
        Take(1);
        return true;
    }

    /// <summary>Whether <paramref name="amount"/> tokens are there at <paramref name="now"/>; <see cref="Take"/> then spends them.</summary>
    public bool HasRoomFor(double amount, TimeSpan now)
    {
        Refill(now);
        return _tokens >= amount;
    }

    public void Take(double amount) => _tokens -= amount;

    /// <summary>Whether the bucket is full again at <paramref name="now"/> (its owner may forget it then).</summary>
    public bool IsFull(TimeSpan now)
    {
        Refill(now);
        return _tokens >= _burst;
    }

    private void Refill(TimeSpan now)
    {
        if (now > _at)
        {
            _tokens = Math.Min(_burst, _tokens + (now - _at).TotalSeconds * perSecond);
            _at = now;
        }
    }
}
