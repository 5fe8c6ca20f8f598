namespace NatPunch.Server.Internal;

/// <summary>
/// A rate limit: <paramref name="burst"/> at once, then <paramref name="perSecond"/> on average, on the
/// caller's clock. Not thread-safe (its owner's loop or lock guards it).
/// </summary>
internal sealed class TokenBucket(double perSecond, int burst, TimeSpan now)
{
    private double _tokens = burst;
    private TimeSpan _at = now;

    /// <summary>Takes one token if there is one.</summary>
    public bool TryTake(TimeSpan now)
    {
        Refill(now);
        if (_tokens < 1)
        {
            return false;
        }
        _tokens--;
        return true;
    }

    /// <summary>Whether the bucket is full again at <paramref name="now"/> (its owner may forget it then).</summary>
    public bool IsFull(TimeSpan now)
    {
        Refill(now);
        return _tokens >= burst;
    }

    private void Refill(TimeSpan now)
    {
        if (now > _at)
        {
            _tokens = Math.Min(burst, _tokens + (now - _at).TotalSeconds * perSecond);
            _at = now;
        }
    }
}
