using System.Net;
using Microsoft.Extensions.Logging;

namespace NatPunch.Server.Internal;

/// <summary>The server's log messages, source-generated.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(1, LogLevel.Information, "Serving STUN on {Transport} {EndPoint}")]
    public static partial void Serving(ILogger logger, string transport, IPEndPoint endPoint);

    [LoggerMessage(2, LogLevel.Information, "RFC 5780 behaviour discovery enabled: OTHER-ADDRESS of {Primary} is {Other}")]
    public static partial void BehaviorDiscovery(ILogger logger, IPEndPoint primary, IPEndPoint other);

    [LoggerMessage(3, LogLevel.Warning, "UDP receive on {EndPoint} failed: {Error}")]
    public static partial void ReceiveFailed(ILogger logger, IPEndPoint endPoint, string error);

    [LoggerMessage(4, LogLevel.Debug, "TCP connection from {Remote} ended: {Reason}")]
    public static partial void TcpClosed(ILogger logger, EndPoint? remote, string reason);

    [LoggerMessage(5, LogLevel.Warning, "TCP connection limit {Limit} reached; refusing {Remote}")]
    public static partial void TcpLimit(ILogger logger, int limit, EndPoint? remote);

    [LoggerMessage(6, LogLevel.Information, "Server stopped: {Counters}")]
    public static partial void Stopped(ILogger logger, ServerCounters counters);

    [LoggerMessage(7, LogLevel.Debug, "Rendezvous connection {ConnectionId} sent a malformed message: {Error}")]
    public static partial void RendezvousMalformed(ILogger logger, long connectionId, string error);

    [LoggerMessage(8, LogLevel.Error, "Rendezvous service fault; the loop goes on")]
    public static partial void RendezvousFault(ILogger logger, Exception exception);

    [LoggerMessage(9, LogLevel.Warning, "Refused {Remote} ({Kind}): {Detail}; {More} more of this kind in the last {Seconds} s not logged")]
    public static partial void Refused(ILogger logger, ServerRefusal kind, EndPoint? remote, string detail, long more, double seconds);

    [LoggerMessage(10, LogLevel.Information, "TLS certificate: {Certificate} (from {Path})")]
    public static partial void TlsCertificate(ILogger logger, string certificate, string path);

    [LoggerMessage(11, LogLevel.Warning, "TLS certificate {Path} not reloaded, the one in use stays: {Error}")]
    public static partial void TlsReloadFailed(ILogger logger, string path, string error);

    [LoggerMessage(12, LogLevel.Debug, "TLS handshake with {Remote} failed: {Error}")]
    public static partial void TlsHandshakeFailed(ILogger logger, EndPoint? remote, string error);
}
