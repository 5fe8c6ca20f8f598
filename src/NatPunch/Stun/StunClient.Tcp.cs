using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;
using NatPunch.Stun.Internal;

namespace NatPunch.Stun;

public sealed partial class StunClient
{
    /// <summary>
    /// Sends <paramref name="request"/> over a new TCP connection to its destination, with this
    /// client's clock and <see cref="StunRetransmissionOptions.ReliableTimeout"/>.
    /// </summary>
    public Task<StunResponse> SendTcpAsync(StunRequest request, CancellationToken cancellationToken = default) =>
        SendTcpAsync(request, _options.Retransmission, _time, cancellationToken);

    /// <summary>
    /// One transaction over a new TCP connection (RFC 8489 §6.2.2): no retransmissions; the response
    /// is found in the byte stream by the header's length field; the whole exchange, connection set-up
    /// included, must finish within <see cref="StunRetransmissionOptions.ReliableTimeout"/>.
    /// Answers whether a server is reachable over TCP when UDP is blocked.
    /// </summary>
    /// <exception cref="StunTransactionTimeoutException">No response within the timeout.</exception>
    /// <exception cref="SocketException">The connection was refused or broke.</exception>
    /// <exception cref="IOException">The server closed the connection or sent something that is not STUN.</exception>
    public static async Task<StunResponse> SendTcpAsync(StunRequest request, StunRetransmissionOptions? options, TimeProvider? timeProvider,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var socket = new Socket(request.Destination.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        return await SendTcpAsync(request, socket, options, timeProvider, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// As <see cref="SendTcpAsync(StunRequest, StunRetransmissionOptions?, TimeProvider?, CancellationToken)"/>, from
    /// <paramref name="socket"/>, a TCP socket the caller made (and perhaps bound: the TCP port whose public
    /// address is wanted) and disposes; it must reach <see cref="StunRequest.Destination"/>'s address family.
    /// </summary>
    public static async Task<StunResponse> SendTcpAsync(StunRequest request, Socket socket, StunRetransmissionOptions? options, TimeProvider? timeProvider,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(socket);
        options ??= StunRetransmissionOptions.Default;
        TimeProvider time = timeProvider ?? TimeProvider.System;
        long epoch = time.GetTimestamp();
        var core = new StunClientTransaction(request.Encode(request.TransactionId ?? TransactionId.NewRandom()), options, reliable: true);

        using var timeout = new CancellationTokenSource(options.ReliableTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await socket.ConnectAsync(request.Destination, linked.Token).ConfigureAwait(false);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            StunTransactionStep step = core.Poll(time.GetElapsedTime(epoch));
            await stream.WriteAsync(step.Datagram, linked.Token).ConfigureAwait(false);

            byte[] header = new byte[StunConstants.HeaderLength];
            while (true)
            {
                await stream.ReadExactlyAsync(header, linked.Token).ConfigureAwait(false);
                if (!StunMessage.TryGetFramedLength(header, out int length))
                {
                    throw new IOException($"{request.Destination} sent bytes that are not STUN framing over TCP.");
                }
                byte[] message = new byte[length];
                header.CopyTo(message, 0);
                await stream.ReadExactlyAsync(message.AsMemory(StunConstants.HeaderLength), linked.Token).ConfigureAwait(false);
                IPEndPoint from = SocketAddressing.Normalize((IPEndPoint)socket.RemoteEndPoint!);
                if (core.TryHandleResponse(message, from, time.GetElapsedTime(epoch)))
                {
                    return core.Response! with { ReceivedOn = SocketAddressing.Normalize((IPEndPoint)socket.LocalEndPoint!) };
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new StunTransactionTimeoutException(request.Destination, core.SendCount, options.ReliableTimeout, reliable: true);
        }
        catch (EndOfStreamException ex)
        {
            throw new IOException($"{request.Destination} closed the TCP connection before it answered.", ex);
        }
    }
}
