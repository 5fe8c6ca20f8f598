using NatPunch.Testing;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NatPunch.Relay;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Stun;
using RelayClient = NatPunch.Relay.TurnClient;

namespace NatPunch.IntegrationTests.Relay;

/// <summary>Our TURN client over IPv6 loopback: an IPv6 relay asked for with REQUESTED-ADDRESS-FAMILY.</summary>
public sealed class TurnClientIPv6Tests
{
    [Theory]
    [InlineData(TurnServerTransport.Udp, false)]
    [InlineData(TurnServerTransport.Tcp, true)]
    public async Task DataRoundTripsThroughAnIPv6Relay(TurnServerTransport transport, bool channel)
    {
        Requires.IPv6();
        CancellationToken cancel = TestContext.Current.CancellationToken;
        TimeSpan timeout = TimeSpan.FromSeconds(10);
        var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.IPv6Loopback, 0)],
            Turn = new TurnOptions
            {
                Realm = "natpunch.test",
                Users = new Dictionary<string, string> { ["alice"] = "wonderland" },
                AllowLoopbackPeers = true,
            },
        });
        server.Start();
        try
        {
            await RoundTripAsync(server, transport, channel, cancel, timeout);
        }
        finally
        {
            await TurnClientOurServerTests.DisposeServerAsync(server);
        }
    }

    private static async Task RoundTripAsync(NatPunchServer server, TurnServerTransport transport, bool channel, CancellationToken cancel, TimeSpan timeout)
    {
        await using RelayClient client = await RelayClient.ConnectAsync(server.UdpEndPoints[0], new TurnCredentials("alice", "wonderland"),
            new TurnConnectionOptions
            {
                Transport = transport,
                Client = new TurnClientOptions
                {
                    RequestedAddressFamily = Protocol.Turn.RequestedAddressFamily.IPv6,
                    Retransmission = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxSends = 5, FinalWaitMultiplier = 8 },
                },
            }, cancellationToken: cancel);
        RelayAllocation allocation = await client.AllocateAsync(cancel).WaitAsync(timeout, cancel);
        allocation.RelayedAddress.Address.ShouldBe(IPAddress.IPv6Loopback);

        using var peer = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        var peerEndPoint = (IPEndPoint)peer.LocalEndPoint!;
        await client.CreatePermissionAsync(peerEndPoint, cancel).WaitAsync(timeout, cancel);
        if (channel)
        {
            await client.BindChannelAsync(peerEndPoint, cancel).WaitAsync(timeout, cancel);
        }

        await client.SendAsync(peerEndPoint, "six"u8.ToArray(), cancel);
        byte[] buffer = new byte[100];
        SocketReceiveFromResult got = await peer.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.IPv6Any, 0), cancel)
            .AsTask().WaitAsync(timeout, cancel);
        Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes).ShouldBe("six");
        await peer.SendToAsync("back"u8.ToArray(), SocketFlags.None, got.RemoteEndPoint, cancel);
        TurnDatagram received = await client.ReceiveAsync(cancel).AsTask().WaitAsync(timeout, cancel);
        received.Peer.ShouldBe(peerEndPoint);
        received.ViaChannel.ShouldBe(channel);
        Encoding.ASCII.GetString(received.Payload.Span).ShouldBe("back");
    }
}
