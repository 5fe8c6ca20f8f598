using System.Net;
using Microsoft.Extensions.Logging;

namespace NatPunch.Server.Internal;

/// <summary>
/// Counts every refusal (<see cref="ServerCounters.Refusals"/>) and logs each kind at most once per
/// interval, with how many were not logged since: under a flood the log says what is happening
/// without becoming the flood.
/// </summary>
internal sealed class RefusalReporter(ServerCounters counters, ILogger logger, TimeProvider time, TimeSpan interval)
{
    private readonly Lock _gate = new();
    private readonly long[] _lastLogged = Enumerable.Repeat(long.MinValue, Enum.GetValues<ServerRefusal>().Length).ToArray();
    private readonly long[] _unlogged = new long[Enum.GetValues<ServerRefusal>().Length];

    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    public void Refused(ServerRefusal kind, EndPoint? remote, string detail)
    {
        counters.CountRefusal(kind);
        long now = time.GetTimestamp();
        long more;
        lock (_gate)
        {
            int i = (int)kind;
            if (_lastLogged[i] != long.MinValue && time.GetElapsedTime(_lastLogged[i], now) < interval)
            {
                _unlogged[i]++;
                return;
            }
            _lastLogged[i] = now;
            more = _unlogged[i];
            _unlogged[i] = 0;
        }
        ServerLog.Refused(logger, kind, remote, detail, more, interval.TotalSeconds);
    }
}
