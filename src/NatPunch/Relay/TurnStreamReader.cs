using System.Net.Sockets;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;

namespace NatPunch.Relay;

/// <summary>
/// Splits a TCP connection to a TURN server into its messages: STUN (RFC 8489 §6.2.2, the length
/// field says how long) and ChannelData (padded to four bytes, RFC 8656 §12.5).
/// </summary>
internal static class TurnStreamReader
{
    /// <summary>Reads messages until the connection ends (an exception) or <paramref name="cancellationToken"/> fires.</summary>
    /// <exception cref="IOException">The server sent bytes that are neither STUN nor ChannelData, or the connection broke.</exception>
    public static async Task ReadMessagesAsync(Socket socket, Action<byte[]> onMessage, CancellationToken cancellationToken)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await ReadMessagesAsync(stream, onMessage, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>As above, over any stream: TCP, or TLS (RFC 8656 <c>turns:</c>).</summary>
    public static async Task ReadMessagesAsync(Stream stream, Action<byte[]> onMessage, CancellationToken cancellationToken)
    {
        byte[] header = new byte[ChannelData.HeaderLength];
        while (!cancellationToken.IsCancellationRequested)
        {
            await stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
            if (!ChannelData.TryGetFramedLength(header, out int length, legacyRange: true)
                && !StunMessage.TryGetFramedLength(header, out length))
            {
                throw new IOException("the TURN server sent bytes that are neither STUN nor ChannelData");
            }
            byte[] message = new byte[length];
            header.CopyTo(message, 0);
            await stream.ReadExactlyAsync(message.AsMemory(header.Length), cancellationToken).ConfigureAwait(false);
            onMessage(message);
        }
    }
}
