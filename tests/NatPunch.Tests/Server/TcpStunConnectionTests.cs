using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NatPunch.Server;
using NatPunch.Server.Internal;
using NatPunch.Server.Stun;

namespace NatPunch.Tests.Server;

/// <summary>The server's TCP client connection on a real loopback connection: what it sends the client.</summary>
public class TcpStunConnectionTests
{
    private const int MessageCount = 3000;
    private const int PayloadLength = 500; // ChannelData of 504 bytes: no padding

    /// <summary>
    /// Far more than the socket takes at once goes through the connection's queue, in records of
    /// whole messages; a client that reads one whole message at a time, slowly at first, through
    /// a small receive buffer (as <c>turnutils_uclient</c> does) gets every message, in order.
    /// </summary>
    [Fact]
    public async Task ASlowClientReadingWholeMessagesGetsEveryQueuedMessageInOrder()
    {
        CancellationToken token = TestContext.Current.CancellationToken;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 64 * 1024 };
        await client.ConnectAsync(listener.LocalEndPoint!, token);
        Socket accepted = await listener.AcceptAsync(token);
        var responder = new StunBindingResponder(new ServerAddressSet((IPEndPoint)accepted.LocalEndPoint!, null));
        var connection = new TcpStunConnection(accepted, null, 0, responder, new ServerCounters(), null, NullLogger.Instance, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(10));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        Task run = connection.RunAsync(ReadOnlyMemory<byte>.Empty, stop.Token);

        for (int i = 0; i < MessageCount; i++)
        {
            connection.TrySend(ChannelDataNumbered(i)).ShouldBeTrue($"message {i} refused");
        }
        await Task.Delay(200, token); // the client is slow to start: the queue fills

        byte[] message = new byte[4 + PayloadLength];
        await using var fromServer = new NetworkStream(client, ownsSocket: false);
        for (int i = 0; i < MessageCount; i++)
        {
            await fromServer.ReadExactlyAsync(message, token);
            BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(2)).ShouldBe((ushort)PayloadLength);
            message.AsSpan(4).SequenceEqual(ChannelDataNumbered(i).AsSpan(4)).ShouldBeTrue($"message {i} differs");
        }

        await stop.CancelAsync();
        client.Dispose();
        await run;
    }

    private static byte[] ChannelDataNumbered(int index)
    {
        byte[] message = new byte[4 + PayloadLength];
        BinaryPrimitives.WriteUInt16BigEndian(message, 0x4000);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), PayloadLength);
        for (int i = 4; i < message.Length; i += 4)
        {
            BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(i), index * 1000 + i);
        }
        return message;
    }
}
