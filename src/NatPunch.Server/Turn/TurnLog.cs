using Microsoft.Extensions.Logging;

namespace NatPunch.Server.Turn;

/// <summary>The TURN relay's log messages, source-generated.</summary>
internal static partial class TurnLog
{
    [LoggerMessage(100, LogLevel.Information, "TURN relay enabled: realm {Realm}, {Auth}, relay ports {MinPort}-{MaxPort}")]
    public static partial void Enabled(ILogger logger, string realm, string auth, int minPort, int maxPort);

    [LoggerMessage(103, LogLevel.Warning, "TURN grants go to every peer that registers (no --token): anyone who can reach this server can relay through it to public addresses. Set --token to limit the relay to your peers, or --no-turn")]
    public static partial void OpenGrants(ILogger logger);

    [LoggerMessage(104, LogLevel.Information, "TURN grants are signed with a random secret made at start: a restart invalidates them until peers register again. Set --turn-secret to keep them valid across restarts")]
    public static partial void EphemeralGrants(ILogger logger);

    [LoggerMessage(101, LogLevel.Error, "TURN housekeeping fault")]
    public static partial void Fault(ILogger logger, Exception exception);

    [LoggerMessage(105, LogLevel.Warning, "TURN relay refused: {Summary}")]
    public static partial void Refusals(ILogger logger, string summary);

    [LoggerMessage(102, LogLevel.Information, "TURN relay stopped: {Counters}")]
    public static partial void Stopped(ILogger logger, string counters);
}
