using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Stun;

namespace NatPunch.Stun;

public sealed partial class StunClient
{
    [LoggerMessage(1, LogLevel.Debug, "Ignored a malformed datagram of {Length} bytes from {From}: {Error}")]
    private partial void LogMalformedDatagram(IPEndPoint from, int length, StunParseError error);

    [LoggerMessage(2, LogLevel.Debug, "Ignored a response to no current transaction ({TransactionId}) from {From}")]
    private partial void LogUnmatchedResponse(TransactionId transactionId, IPEndPoint from);

    [LoggerMessage(3, LogLevel.Debug, "Retransmitting {TransactionId} to {Destination} (send {SendCount})")]
    private partial void LogRetransmit(TransactionId transactionId, int sendCount, IPEndPoint destination);

    [LoggerMessage(4, LogLevel.Debug, "Transaction {TransactionId} to {Destination} timed out after {SendCount} sends")]
    private partial void LogTimedOut(TransactionId transactionId, IPEndPoint destination, int sendCount);

    [LoggerMessage(5, LogLevel.Debug, "Sending to {Destination} failed: {Error}")]
    private partial void LogSendFailed(IPEndPoint destination, SocketError error);

    [LoggerMessage(6, LogLevel.Debug, "Receive error {Error}; the loop carries on")]
    private partial void LogReceiveError(SocketError error);

    [LoggerMessage(7, LogLevel.Warning, "The receive loop failed")]
    private partial void LogReceiveLoopFailed(Exception exception);
}
