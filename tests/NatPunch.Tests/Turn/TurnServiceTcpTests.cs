using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Server.Turn;

namespace NatPunch.Tests.Turn;

/// <summary>
/// TCP clients of the <see cref="TurnService"/>: the allocation belongs to the connection
/// (RFC 8656 §3.1), even when a new connection comes from the same address and port.
/// </summary>
public sealed class TurnServiceTcpTests
{
    private static readonly IPEndPoint Server = IPEndPoint.Parse("127.0.0.1:3478");
    private static readonly IPEndPoint ClientAddress = IPEndPoint.Parse("127.0.0.1:45123");
    private static readonly IPEndPoint PeerX = IPEndPoint.Parse("203.0.113.7:5000");
    private static readonly IPEndPoint PeerY = IPEndPoint.Parse("203.0.113.8:6000");

    private static TurnService NewService() => new(new TurnOptions
    {
        Realm = TurnTestClient.Realm,
        Users = new Dictionary<string, string> { ["alice"] = "wonderland" },
        MinPort = 40000,
        MaxPort = 44999,
    });

    /// <summary>A TCP connection as the service sees it: what it sends, the last message first.</summary>
    private sealed class FakeConnection : ITurnClientConnection
    {
        public List<byte[]> Sent { get; } = [];

        public bool TrySend(ReadOnlySpan<byte> message)
        {
            Sent.Add(message.ToArray());
            return true;
        }
    }

    private static TurnTestClient Connect(TurnService service, out FakeConnection connection)
    {
        var fake = new FakeConnection();
        connection = fake;
        TurnClient client = service.RegisterTcpClient(ClientAddress, Server, fake);
        return new TurnTestClient(client, request =>
        {
            int before = fake.Sent.Count;
            service.HandleFromClient(client, request);
            fake.Sent.Count.ShouldBe(before + 1, "one answer on this connection");
            return fake.Sent[^1];
        })
        { Username = "alice", Password = "wonderland" };
    }

    private static void AllocateAndBind(TurnTestClient client, IPEndPoint peer)
    {
        TurnTestClient.Response allocated = client.Allocate();
        allocated.IsSuccess.ShouldBeTrue(allocated.ToString());
        TurnTestClient.Response bound = client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, peer)));
        bound.IsSuccess.ShouldBeTrue(bound.ToString());
    }

    [Fact]
    public async Task NewTcpConnectionFromTheSamePortNeverFindsTheOldConnectionsAllocation()
    {
        await using TurnService service = NewService();

        // The old connection allocates and binds channel 0x4000 to X.
        TurnTestClient old = Connect(service, out _);
        AllocateAndBind(old, PeerX);

        // The client reconnects from the same port (the old connection was reset) before the
        // server has handled the old connection's close: a fresh allocation, 0x4000 to Y.
        TurnTestClient second = Connect(service, out FakeConnection secondConnection);
        AllocateAndBind(second, PeerY);
        service.Snapshot().Allocations.ShouldBe(2);

        // The old connection's close, handled late, takes its own allocation only.
        service.OnTcpClosed(old.Client);
        service.Snapshot().Allocations.ShouldBe(1);
        TurnTestClient.Response refreshed = second.Parse(second.Request(StunMethod.Refresh));
        refreshed.IsSuccess.ShouldBeTrue(refreshed.ToString());

        // The second connection's close deletes its allocation: nothing outlives its connection.
        service.OnTcpClosed(second.Client);
        service.Snapshot().Allocations.ShouldBe(0);
        secondConnection.Sent.Count.ShouldBe(4); // 401, Allocate, ChannelBind, Refresh: all on its own connection

        // A third connection from the same port again binds 0x4000 to X.
        TurnTestClient third = Connect(service, out _);
        AllocateAndBind(third, PeerX);
        service.OnTcpClosed(third.Client);
        service.Snapshot().Allocations.ShouldBe(0);
    }
}
