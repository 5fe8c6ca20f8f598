namespace NatPunch.Server.Turn;

/// <summary>
/// What the relay refused since it last said so: allocations over a quota (486), permissions over
/// the per-allocation limit (508) and datagrams over a bandwidth limit. The relay counts each one
/// (<see cref="TurnCounters"/>) and logs this summary at most once per interval, so that under
/// abuse the log says what is happening without becoming the flood. Not thread-safe.
/// </summary>
internal sealed class TurnRefusalSummary(TimeSpan interval)
{
    private long _quota, _permissions, _bandwidth;
    private DateTimeOffset _lastLogged = DateTimeOffset.MinValue;

    /// <summary>The text to log now, or null: nothing new, or logged less than an interval ago.</summary>
    public string? Due(TurnCounters counters, DateTimeOffset now)
    {
        long quota = counters.QuotaRefusals - _quota, permissions = counters.PermissionRefusals - _permissions,
            bandwidth = counters.BandwidthDrops - _bandwidth;
        if ((quota == 0 && permissions == 0 && bandwidth == 0) || now - _lastLogged < interval)
        {
            return null;
        }
        bool first = _lastLogged == DateTimeOffset.MinValue;
        _lastLogged = now;
        (_quota, _permissions, _bandwidth) = (counters.QuotaRefusals, counters.PermissionRefusals, counters.BandwidthDrops);
        return $"{quota} allocation(s) refused over a quota (486), {permissions} permission(s) over --max-permissions (508), "
            + $"{bandwidth} datagram(s) dropped over a bandwidth limit, {(first ? "since start" : $"in the last {(int)interval.TotalSeconds} s or more")}";
    }
}
