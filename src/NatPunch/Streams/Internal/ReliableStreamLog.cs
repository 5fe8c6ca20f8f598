using Microsoft.Extensions.Logging;

namespace NatPunch.Streams.Internal;

internal static partial class ReliableStreamLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Stream {StreamId} reset: {Reason}")]
    public static partial void Reset(ILogger logger, uint streamId, string reason);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Stream {StreamId}: the datagram path failed")]
    public static partial void ChannelFailed(ILogger logger, uint streamId, Exception error);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Debug, Message = "Stream {StreamId} closed: {Statistics}")]
    public static partial void Closed(ILogger logger, uint streamId, ReliableStreamStatistics statistics);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Error, Message = "Stream {StreamId}: loop failed")]
    public static partial void LoopFailed(ILogger logger, uint streamId, Exception error);
}
