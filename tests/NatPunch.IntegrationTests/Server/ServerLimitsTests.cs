using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Server;
using NatPunch.Server.Rendezvous;

namespace NatPunch.IntegrationTests.Server;

/// <summary>
/// The server's limits against abuse, tried as an attacker would on loopback against a real server:
/// each refusal closes the offending connection, is counted, and leaves other clients served.
/// </summary>
public sealed class ServerLimitsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task OneSourceGetsAtMostItsShareOfConnectionsWhileAnotherIsStillServed()
    {
        await using NatPunchServer server = Start(new NatPunchServerOptions { MaxTcpConnectionsPerAddress = 3 });
        var held = new List<Socket>();
        for (int i = 0; i < 3; i++)
        {
            held.Add(await ConnectAsync(server, IPAddress.Loopback));
        }

        using Socket refused = await ConnectAsync(server, IPAddress.Loopback);
        (await ReadUntilClosedAsync(refused)).ShouldBeEmpty("the fourth connection from one source is closed unanswered");
        await WaitForAsync(() => server.Counters.Refusals(ServerRefusal.TcpConnectionsPerAddress) == 1);

        // Another source (127.0.0.2 is loopback too on Linux) is served as usual.
        using Socket other = await ConnectAsync(server, IPAddress.Parse("127.0.0.2"));
        (await BindingOverTcpAsync(other)).ShouldBeTrue();
        // And the source gets its place back when one of its connections closes.
        held[0].Dispose();
        await Task.Delay(300); // the server sees the close
        using Socket again = await ConnectAsync(server, IPAddress.Loopback);
        (await BindingOverTcpAsync(again)).ShouldBeTrue();
        server.Counters.Refusals(ServerRefusal.TcpConnectionsPerAddress).ShouldBe(1);
        held.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task AConnectionThatSendsNothingIsClosedAfterTheHandshakeTimeout()
    {
        await using NatPunchServer server = Start(new NatPunchServerOptions { TcpHandshakeTimeout = TimeSpan.FromMilliseconds(500) });
        using Socket silent = await ConnectAsync(server, IPAddress.Loopback);

        (await ReadUntilClosedAsync(silent)).ShouldBeEmpty();
        server.Counters.Refusals(ServerRefusal.TcpHandshakeTimeout).ShouldBe(1);
    }

    [Fact]
    public async Task AStunMessageTrickledAByteAtATimeIsCutOffAtTheMessageTimeout()
    {
        await using NatPunchServer server = Start(new NatPunchServerOptions { TcpMessageTimeout = TimeSpan.FromSeconds(1), TcpIdleTimeout = TimeSpan.FromMinutes(5) });
        using Socket slow = await ConnectAsync(server, IPAddress.Loopback);
        // A Binding request header announcing 8 bytes of attributes, then one byte now and then.
        byte[] header = [0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        await slow.SendAsync(header, SocketFlags.None);
        var closed = ReadUntilClosedAsync(slow);
        var started = DateTime.UtcNow;
        for (int i = 0; i < 7 && !closed.IsCompleted; i++)
        {
            await Task.Delay(300);
            try
            {
                await slow.SendAsync(new byte[1], SocketFlags.None);
            }
            catch (SocketException)
            {
                break; // reset: already closed
            }
        }

        (await closed).ShouldBeEmpty();
        (DateTime.UtcNow - started).ShouldBeLessThan(TimeSpan.FromSeconds(2.5), "cut off at the message timeout, not when it finally completed");
        server.Counters.Refusals(ServerRefusal.TcpSlowMessage).ShouldBe(1);
    }

    [Fact]
    public async Task ARendezvousConnectionThatNeverRegistersIsClosedWithAReasonEvenIfItPings()
    {
        await using NatPunchServer server = Start(new NatPunchServerOptions
        {
            Rendezvous = RendezvousOptions.Default with { RegisterTimeout = TimeSpan.FromMilliseconds(700) },
        });
        using Socket pinger = await ConnectAsync(server, IPAddress.Loopback);
        Task<byte[]> closed = ReadUntilClosedAsync(pinger);
        for (int i = 0; i < 5 && !closed.IsCompleted; i++)
        {
            await pinger.SendAsync(RendezvousCodec.Encode(new PingMessage(i)), SocketFlags.None);
            await Task.Delay(200);
        }

        ErrorMessage error = Messages(await closed).OfType<ErrorMessage>().ShouldHaveSingleItem();
        error.Message.ShouldContain("no name registered within");
        server.Counters.Refusals(ServerRefusal.RendezvousRegisterTimeout).ShouldBe(1);
    }

    [Fact]
    public async Task ARendezvousFrameOverTheLimitClosesTheConnection()
    {
        await using NatPunchServer server = Start(new NatPunchServerOptions { Rendezvous = RendezvousOptions.Default with { MaxFrameLength = 1000 } });
        using Socket client = await ConnectAsync(server, IPAddress.Loopback);
        byte[] header = new byte[RendezvousFrame.HeaderLength];
        RendezvousFrame.WriteHeader(header, 5000);
        await client.SendAsync(header, SocketFlags.None);

        ErrorMessage error = Messages(await ReadUntilClosedAsync(client)).OfType<ErrorMessage>().ShouldHaveSingleItem();
        error.Message.ShouldContain("over this server's limit of 1000");
        server.Counters.Refusals(ServerRefusal.RendezvousFrameTooLarge).ShouldBe(1);
    }

    [Fact]
    public async Task ARendezvousClientSendingFasterThanItsRateIsClosed()
    {
        await using NatPunchServer server = Start(new NatPunchServerOptions
        {
            Rendezvous = RendezvousOptions.Default with { MessagesPerSecond = 10, MessageBurst = 20 },
        });
        using Socket client = await ConnectAsync(server, IPAddress.Loopback);
        byte[] flood = [.. Enumerable.Range(0, 100).SelectMany(i => RendezvousCodec.Encode(new PingMessage(i)))];
        await client.SendAsync(flood, SocketFlags.None);

        List<RendezvousMessage> received = Messages(await ReadUntilClosedAsync(client));
        received.OfType<PongMessage>().Count().ShouldBe(20, "the burst is answered");
        received.OfType<ErrorMessage>().ShouldHaveSingleItem().Message.ShouldContain("messages a second");
        server.Counters.Refusals(ServerRefusal.RendezvousMessageRate).ShouldBe(1);
    }

    private static NatPunchServer Start(NatPunchServerOptions options)
    {
        var server = new NatPunchServer(options with { Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        server.Start();
        return server;
    }

    private static async Task<Socket> ConnectAsync(NatPunchServer server, IPAddress from)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(server.UdpEndPoints[0]);
        return socket;
    }

    /// <summary>Everything the server sends until it closes the connection (a reset counts as closed).</summary>
    private static async Task<byte[]> ReadUntilClosedAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var received = new MemoryStream();
        byte[] buffer = new byte[4096];
        try
        {
            while (true)
            {
                int read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    break;
                }
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException)
        {
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the server did not close the connection within {Patience.TotalSeconds} s");
        }
        return received.ToArray();
    }

    private static List<RendezvousMessage> Messages(byte[] stream)
    {
        var messages = new List<RendezvousMessage>();
        ReadOnlySpan<byte> rest = stream;
        while (RendezvousFrame.TryRead(rest, out ReadOnlySpan<byte> payload, out int length) == RendezvousFrame.Status.Complete)
        {
            RendezvousCodec.TryDecode(payload, out RendezvousMessage message, out _).ShouldBeTrue();
            messages.Add(message);
            rest = rest[length..];
        }
        return messages;
    }

    /// <summary>A Binding request over the connection gets its answer.</summary>
    private static async Task<bool> BindingOverTcpAsync(Socket socket)
    {
        byte[] request = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, .. Enumerable.Range(1, 12).Select(i => (byte)i)];
        await socket.SendAsync(request, SocketFlags.None);
        byte[] answer = new byte[512];
        using var timeout = new CancellationTokenSource(Patience);
        int read = await socket.ReceiveAsync(answer, SocketFlags.None, timeout.Token);
        return read >= 20 && BinaryPrimitives.ReadUInt16BigEndian(answer) == 0x0101;
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not met in time");
            }
            await Task.Delay(20);
        }
    }
}
