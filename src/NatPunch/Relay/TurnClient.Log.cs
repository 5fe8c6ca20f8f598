using System.Net;
using Microsoft.Extensions.Logging;

namespace NatPunch.Relay;

public sealed partial class TurnClient
{
    [LoggerMessage(1, LogLevel.Information, "TURN allocation on {Server}: relayed {Relayed}, mapped {Mapped}, lifetime {Lifetime}")]
    private partial void LogAllocated(IPEndPoint server, IPEndPoint relayed, IPEndPoint? mapped, TimeSpan lifetime);

    [LoggerMessage(2, LogLevel.Warning, "TURN {Operation} for {Peer} failed: {Reason}")]
    private partial void LogOperationFailed(TurnOperation operation, IPEndPoint? peer, string reason);

    [LoggerMessage(3, LogLevel.Debug, "TURN {Operation} for {Peer} succeeded{Automatic}")]
    private partial void LogOperationSucceeded(TurnOperation operation, IPEndPoint? peer, string automatic);

    [LoggerMessage(4, LogLevel.Warning, "TURN allocation on {Server} lost: {Reason}")]
    private partial void LogAllocationLost(IPEndPoint server, string reason);
}
