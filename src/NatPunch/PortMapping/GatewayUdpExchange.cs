using System.Net;
using System.Net.Sockets;

namespace NatPunch.PortMapping;

/// <summary>
/// One request to a gateway's UDP service and its answer, retransmitted as RFC 6886 §3.1 says
/// (250 ms, doubling) but fewer times: a gateway on the LAN answers within milliseconds, and a
/// caller that is connecting a peer cannot wait the RFC's 64 s. The socket is not connected:
/// some gateways answer from another of their addresses, so any answer that <c>accept</c> takes is
/// the answer (the caller matches opcode, and for PCP the nonce).
/// </summary>
internal static class GatewayUdpExchange
{
    public static readonly TimeSpan FirstWait = TimeSpan.FromMilliseconds(250);
    public const int Attempts = 3;

    /// <summary>The first datagram <paramref name="accept"/> takes, or default after the last wait (1.75 s in all).</summary>
    public static async Task<T?> RequestAsync<T>(IPAddress local, IPEndPoint gateway, byte[] request, Func<ReadOnlyMemory<byte>, T?> accept,
        CancellationToken cancellationToken) where T : struct
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(local, 0));
        var buffer = new byte[1100];
        TimeSpan wait = FirstWait;
        for (int attempt = 0; attempt < Attempts; attempt++, wait *= 2)
        {
            await socket.SendToAsync(request, SocketFlags.None, gateway, cancellationToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(wait);
            try
            {
                while (true)
                {
                    SocketReceiveFromResult received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token)
                        .ConfigureAwait(false);
                    if (accept(buffer.AsMemory(0, received.ReceivedBytes)) is T answer)
                    {
                        return answer;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // No answer in time: send again.
            }
            catch (SocketException)
            {
                // ICMP port unreachable (nothing listens on 5351) shows as a refused receive: no such service.
                return default;
            }
        }
        return default;
    }
}
