namespace NatPunch.Server.Turn;

/// <summary>
/// A bandwidth limit: <c>bytesPerSecond</c> on average, up to one second's worth at once, on the
/// caller's clock. Not thread-safe (the TURN core's owner guards it).
/// </summary>
internal sealed class ByteBucket(long bytesPerSecond, DateTimeOffset now)
{
    private double _tokens = bytesPerSecond;
    private DateTimeOffset _at = now;

    /// <summary>Whether <paramref name="bytes"/> may pass at <paramref name="now"/>; <see cref="Take"/> then spends them.</summary>
    public bool HasRoomFor(int bytes, DateTimeOffset now)
    {
        if (now > _at)
        {
            _tokens = Math.Min(bytesPerSecond, _tokens + (now - _at).TotalSeconds * bytesPerSecond);
            _at = now;
        }
        return _tokens >= bytes;
    }

    public void Take(int bytes) => _tokens -= bytes;
}
