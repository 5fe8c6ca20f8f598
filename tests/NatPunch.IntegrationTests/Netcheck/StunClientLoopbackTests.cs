using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary>The socket driver against a hand-driven server socket on loopback, with a manual clock.</summary>
public class StunClientLoopbackTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static StunClientOptions Loopback(StunRetransmissionOptions? retransmission = null) => new()
    {
        LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        Retransmission = retransmission ?? StunRetransmissionOptions.Default,
    };

    [Fact]
    public async Task RetransmitsOnTheInjectedClock()
    {
        using var server = new FakeStunServer();
        var time = new ManualTimeProvider();
        await using var client = new StunClient(Loopback(), time);

        Task<StunResponse> pending = client.BindingAsync(server.EndPoint, Cancel);
        (byte[] first, _) = await server.ReceiveAsync();
        (await server.ReceivesWithinAsync(TimeSpan.FromMilliseconds(200))).ShouldBeFalse("nothing is resent before the RTO");

        time.Advance(TimeSpan.FromMilliseconds(500));
        (byte[] second, IPEndPoint from) = await server.ReceiveAsync();
        FakeStunServer.IdOf(second).ShouldBe(FakeStunServer.IdOf(first));
        second.ShouldBe(first);

        server.Send(FakeStunServer.Answer(second, from), from);
        StunResponse response = await pending.WaitAsync(TimeSpan.FromSeconds(5), Cancel);
        response.MappedAddress.ShouldBe(from);
        response.SendCount.ShouldBe(2);
        response.From.ShouldBe(server.EndPoint);
        response.ReceivedOn.ShouldBe(client.LocalEndPoint);
        client.PendingCount.ShouldBe(0);
    }

    [Fact]
    public async Task TimesOutAfterTheFullScheduleOnTheInjectedClock()
    {
        using var server = new FakeStunServer();
        var time = new ManualTimeProvider();
        await using var client = new StunClient(Loopback(), time);

        Task<StunResponse> pending = client.BindingAsync(server.EndPoint, Cancel);
        int received = 0;
        foreach (int step in new[] { 0, 500, 1000, 2000, 4000, 8000, 16000 })
        {
            time.Advance(TimeSpan.FromMilliseconds(step));
            await server.ReceiveAsync();
            received++;
        }
        time.Advance(TimeSpan.FromMilliseconds(7999));
        pending.IsCompleted.ShouldBeFalse();
        time.Advance(TimeSpan.FromMilliseconds(1));

        var timeout = await Should.ThrowAsync<StunTransactionTimeoutException>(pending.WaitAsync(TimeSpan.FromSeconds(5), Cancel));
        timeout.SendCount.ShouldBe(7);
        timeout.Waited.ShouldBe(TimeSpan.FromMilliseconds(39500));
        received.ShouldBe(7);
        (await server.ReceivesWithinAsync(TimeSpan.FromMilliseconds(100))).ShouldBeFalse();
    }

    [Fact]
    public async Task IgnoresAndCountsMalformedDatagrams()
    {
        using var server = new FakeStunServer();
        await using var client = new StunClient(Loopback());

        Task<StunResponse> pending = client.BindingAsync(server.EndPoint, Cancel);
        (byte[] request, IPEndPoint from) = await server.ReceiveAsync();
        server.Send([0xDE, 0xAD, 0xBE, 0xEF], from);
        server.Send(new byte[19], from);
        byte[] truncated = FakeStunServer.Answer(request, from);
        server.Send(truncated[..^4], from);
        server.Send(FakeStunServer.Answer(StunRequestBytes(), from), from);
        server.Send(FakeStunServer.Answer(request, from), from);

        StunResponse response = await pending.WaitAsync(TimeSpan.FromSeconds(5), Cancel);
        response.MappedAddress.ShouldBe(from);
        client.MalformedDatagrams.ShouldBe(3);
        client.UnmatchedDatagrams.ShouldBe(1);
    }

    [Fact]
    public async Task MatchesConcurrentTransactionsById()
    {
        using var server = new FakeStunServer();
        await using var client = new StunClient(Loopback());

        var pending = Enumerable.Range(0, 20).Select(_ => client.BindingAsync(server.EndPoint, Cancel)).ToList();
        var requests = new List<(byte[] Request, IPEndPoint From)>();
        for (int i = 0; i < pending.Count; i++)
        {
            requests.Add(await server.ReceiveAsync());
        }
        // Answer in reverse order, each with a distinct mapped port so that mix-ups would show.
        for (int i = requests.Count - 1; i >= 0; i--)
        {
            server.Send(FakeStunServer.Answer(requests[i].Request, new IPEndPoint(IPAddress.Parse("192.0.2.1"), 1000 + i)), requests[i].From);
        }

        StunResponse[] responses = await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(5), Cancel);
        for (int i = 0; i < requests.Count; i++)
        {
            StunResponse response = responses.Single(r => r.TransactionId == FakeStunServer.IdOf(requests[i].Request));
            response.MappedAddress!.Port.ShouldBe(1000 + i);
        }
        client.PendingCount.ShouldBe(0);
    }

    [Fact]
    public async Task SendsToAnyDestinationFromOneSocket()
    {
        using var first = new FakeStunServer();
        using var second = new FakeStunServer(IPAddress.Parse("127.0.0.2"));
        await using var client = new StunClient(Loopback());

        Task<StunResponse> a = client.BindingAsync(first.EndPoint, Cancel);
        Task<StunResponse> b = client.SendAsync(new StunRequest(second.EndPoint) { ChangeRequest = ChangeRequestFlags.ChangePort }, Cancel);
        (byte[] requestA, IPEndPoint fromA) = await first.ReceiveAsync();
        (byte[] requestB, IPEndPoint fromB) = await second.ReceiveAsync();
        fromA.ShouldBe(fromB);
        fromA.Port.ShouldBe(client.LocalEndPoint.Port);
        StunMessage.TryParse(requestB, out StunMessage message, out _).ShouldBeTrue();
        message.TryGetUInt32(StunAttributeType.ChangeRequest, out uint flags).ShouldBeTrue();
        flags.ShouldBe((uint)ChangeRequestFlags.ChangePort);

        first.Send(FakeStunServer.Answer(requestA, fromA), fromA);
        second.Send(FakeStunServer.Answer(requestB, fromB), fromB);
        (await a.WaitAsync(TimeSpan.FromSeconds(5), Cancel)).From.ShouldBe(first.EndPoint);
        (await b.WaitAsync(TimeSpan.FromSeconds(5), Cancel)).From.ShouldBe(second.EndPoint);
    }

    [Fact]
    public async Task DualModeDefaultSocketReachesIPv4AndIPv6()
    {
        Requires.IPv6();
        using var v4 = new FakeStunServer(IPAddress.Loopback);
        using var v6 = new FakeStunServer(IPAddress.IPv6Loopback);
        await using var client = new StunClient();

        Task<StunResponse> a = client.BindingAsync(v4.EndPoint, Cancel);
        Task<StunResponse> b = client.BindingAsync(v6.EndPoint, Cancel);
        (byte[] requestA, IPEndPoint fromA) = await v4.ReceiveAsync();
        (byte[] requestB, IPEndPoint fromB) = await v6.ReceiveAsync();
        v4.Send(FakeStunServer.Answer(requestA, fromA), fromA);
        v6.Send(FakeStunServer.Answer(requestB, fromB), fromB);

        StunResponse responseA = await a.WaitAsync(TimeSpan.FromSeconds(5), Cancel);
        responseA.From.ShouldBe(v4.EndPoint);
        responseA.MappedAddress.ShouldBe(new IPEndPoint(IPAddress.Loopback, client.LocalEndPoint.Port));
        (await b.WaitAsync(TimeSpan.FromSeconds(5), Cancel)).From.ShouldBe(v6.EndPoint);
    }

    [Fact]
    public async Task CancellationEndsTheTransaction()
    {
        using var server = new FakeStunServer();
        await using var client = new StunClient(Loopback());
        using var cancel = new CancellationTokenSource();

        Task<StunResponse> pending = client.BindingAsync(server.EndPoint, cancel.Token);
        (byte[] request, IPEndPoint from) = await server.ReceiveAsync();
        cancel.Cancel();

        await Should.ThrowAsync<OperationCanceledException>(pending);
        client.PendingCount.ShouldBe(0);
        server.Send(FakeStunServer.Answer(request, from), from);
        await Task.Delay(100, Cancel);
        client.UnmatchedDatagrams.ShouldBe(1);
    }

    [Fact]
    public async Task DisposeFailsPendingTransactions()
    {
        using var server = new FakeStunServer();
        var client = new StunClient(Loopback());

        Task<StunResponse> pending = client.BindingAsync(server.EndPoint, Cancel);
        await server.ReceiveAsync();
        await client.DisposeAsync();

        await Should.ThrowAsync<ObjectDisposedException>(pending);
        Should.Throw<ObjectDisposedException>(() => client.BindingAsync(server.EndPoint, Cancel));
    }

    [Fact]
    public async Task ResponseMayArriveOnAnotherClientsSocket()
    {
        using var server = new FakeStunServer();
        await using var sender = new StunClient(Loopback());
        await using var receiver = new StunClient(Loopback());

        Task<StunResponse> pending = sender.SendAsync(new StunRequest(server.EndPoint) { ResponsePort = receiver.LocalEndPoint.Port }, receiver, Cancel);
        (byte[] request, IPEndPoint from) = await server.ReceiveAsync();
        from.ShouldBe(sender.LocalEndPoint);
        server.Send(FakeStunServer.Answer(request, from), receiver.LocalEndPoint);

        StunResponse response = await pending.WaitAsync(TimeSpan.FromSeconds(5), Cancel);
        response.ReceivedOn.ShouldBe(receiver.LocalEndPoint);
        sender.PendingCount.ShouldBe(0);
    }

    [Fact]
    public async Task WaitsForARequestFromAnotherSocket()
    {
        await using var first = new StunClient(Loopback());
        await using var second = new StunClient(Loopback(new StunRetransmissionOptions { MaxSends = 1, FinalWaitMultiplier = 1 }));
        TransactionId id = TransactionId.NewRandom();

        Task<IPEndPoint> arrived = first.WaitForRequestAsync(id, Cancel);
        Task<StunResponse> sent = second.SendAsync(new StunRequest(first.LocalEndPoint) { TransactionId = id }, Cancel);

        (await arrived.WaitAsync(TimeSpan.FromSeconds(5), Cancel)).ShouldBe(second.LocalEndPoint);
        await Should.ThrowAsync<StunTransactionTimeoutException>(sent);
    }

    [Fact]
    public async Task TcpTimesOutWhenTheServerNeverAnswers()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endPoint = (IPEndPoint)listener.LocalEndpoint;
        var options = StunRetransmissionOptions.Default with { ReliableTimeout = TimeSpan.FromMilliseconds(300) };

        Task<StunResponse> pending = StunClient.SendTcpAsync(new StunRequest(endPoint), options, null, Cancel);
        using TcpClient accepted = await listener.AcceptTcpClientAsync(Cancel);

        var timeout = await Should.ThrowAsync<StunTransactionTimeoutException>(pending);
        timeout.Message.ShouldContain("TCP");
    }

    [Fact]
    public async Task TcpReadsAFramedResponseSplitAcrossWrites()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endPoint = (IPEndPoint)listener.LocalEndpoint;

        Task<StunResponse> pending = StunClient.SendTcpAsync(new StunRequest(endPoint), null, null, Cancel);
        using TcpClient accepted = await listener.AcceptTcpClientAsync(Cancel);
        NetworkStream stream = accepted.GetStream();
        byte[] header = new byte[StunConstants.HeaderLength];
        await stream.ReadExactlyAsync(header, Cancel);
        StunMessage.TryGetFramedLength(header, out int length).ShouldBeTrue();
        byte[] request = new byte[length];
        header.CopyTo(request, 0);
        await stream.ReadExactlyAsync(request.AsMemory(StunConstants.HeaderLength), Cancel);
        byte[] answer = FakeStunServer.Answer(request, (IPEndPoint)accepted.Client.RemoteEndPoint!);
        await stream.WriteAsync(answer.AsMemory(0, 7), Cancel);
        await stream.FlushAsync(Cancel);
        await Task.Delay(50, Cancel);
        await stream.WriteAsync(answer.AsMemory(7), Cancel);

        StunResponse response = await pending.WaitAsync(TimeSpan.FromSeconds(5), Cancel);
        response.MappedAddress.ShouldBe(accepted.Client.RemoteEndPoint);
        response.From.ShouldBe(endPoint);
    }

    [Fact]
    public async Task TcpConnectionRefusedIsASocketError()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        await Should.ThrowAsync<SocketException>(StunClient.SendTcpAsync(new StunRequest(new IPEndPoint(IPAddress.Loopback, port)), null, null, Cancel));
    }

    private static byte[] StunRequestBytes() => new StunRequest(IPEndPoint.Parse("127.0.0.1:1")).Encode(TransactionId.NewRandom());
}
