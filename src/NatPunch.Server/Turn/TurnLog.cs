using Microsoft.Extensions.Logging;

namespace NatPunch.Server.Turn;

/// <summary>The TURN relay's log messages, source-generated.</summary>
internal static partial class TurnLog
{
    [LoggerMessage(100, LogLevel.Information, "TURN relay enabled: realm {Realm}, {Auth}, relay ports {MinPort}-{MaxPort}")]
    public static partial void Enabled(ILogger logger, string realm, string auth, int minPort, int maxPort);

    [LoggerMessage(101, LogLevel.Error, "TURN housekeeping fault")]
    public static partial void Fault(ILogger logger, Exception exception);

    [LoggerMessage(102, LogLevel.Information, "TURN relay stopped: {Counters}")]
    public static partial void Stopped(ILogger logger, string counters);
}
