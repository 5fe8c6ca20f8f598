using System.Net;
using System.Net.Sockets;
using System.Text;
using NatPunch.Relay;
using NatPunch.Stun;
using RelayClient = NatPunch.Relay.TurnClient;

namespace NatPunch.IntegrationTests.Relay;

/// <summary>Our <see cref="RelayClient"/> against a real TURN server on loopback, with a plain UDP socket as the peer.</summary>
public abstract class TurnClientScenarios : IAsyncLifetime
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    protected abstract IPEndPoint ServerEndPoint { get; }
    protected abstract TurnCredentials GoodCredentials { get; }
    protected abstract TurnCredentials BadCredentials { get; }

    public abstract ValueTask InitializeAsync();
    public abstract ValueTask DisposeAsync();

    protected static CancellationToken Cancel => TestContext.Current.CancellationToken;

    protected Task<RelayClient> ConnectAsync(TurnServerTransport transport, TurnCredentials? credentials = null, TurnClientOptions? client = null) =>
        RelayClient.ConnectAsync(ServerEndPoint, credentials ?? GoodCredentials, new TurnConnectionOptions
        {
            Transport = transport,
            LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Client = client ?? new TurnClientOptions
            {
                Retransmission = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxSends = 5, FinalWaitMultiplier = 8 },
            },
        }, cancellationToken: Cancel);

    [Theory]
    [InlineData(TurnServerTransport.Udp, false)]
    [InlineData(TurnServerTransport.Udp, true)]
    [InlineData(TurnServerTransport.Tcp, false)]
    [InlineData(TurnServerTransport.Tcp, true)]
    public async Task DataRoundTripsThroughTheRelay(TurnServerTransport transport, bool channel)
    {
        await using RelayClient client = await ConnectAsync(transport);
        RelayAllocation allocation = await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        allocation.RelayedAddress.Address.ShouldBe(IPAddress.Loopback);
        allocation.MappedAddress.ShouldBe(client.LocalEndPoint);
        allocation.Lifetime.ShouldBeGreaterThan(TimeSpan.Zero);

        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var peerEndPoint = (IPEndPoint)peer.LocalEndPoint!;

        await client.CreatePermissionAsync(peerEndPoint, Cancel).WaitAsync(Timeout, Cancel);
        if (channel)
        {
            ushort number = await client.BindChannelAsync(peerEndPoint, Cancel).WaitAsync(Timeout, Cancel);
            number.ShouldBeInRange((ushort)0x4000, (ushort)0x4FFF);
        }

        for (int i = 0; i < 3; i++)
        {
            string text = $"ping {i} {(channel ? "channel" : "indication")} {new string('x', i)}";
            await client.SendAsync(peerEndPoint, Encoding.ASCII.GetBytes(text), Cancel);
            byte[] buffer = new byte[2048];
            SocketReceiveFromResult got = await peer.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), Cancel)
                .AsTask().WaitAsync(Timeout, Cancel);
            Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes).ShouldBe(text);
            got.RemoteEndPoint.ShouldBe(allocation.RelayedAddress);

            string reply = $"pong {i}{new string('y', i)}";
            await peer.SendToAsync(Encoding.ASCII.GetBytes(reply), SocketFlags.None, allocation.RelayedAddress, Cancel);
            TurnDatagram received = await client.ReceiveAsync(Cancel).AsTask().WaitAsync(Timeout, Cancel);
            received.Peer.ShouldBe(peerEndPoint);
            received.ViaChannel.ShouldBe(channel);
            Encoding.ASCII.GetString(received.Payload.Span).ShouldBe(reply);
        }
    }

    [Theory]
    [InlineData(TurnServerTransport.Udp)]
    [InlineData(TurnServerTransport.Tcp)]
    public async Task WrongPasswordGivesAClearError(TurnServerTransport transport)
    {
        await using RelayClient client = await ConnectAsync(transport, BadCredentials);
        TurnException failure = await Should.ThrowAsync<TurnException>(() => client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel));
        failure.Error.Kind.ShouldBe(TurnErrorKind.WrongCredentials);
        failure.Message.ShouldContain("wrong username or password");
        client.State.ShouldBe(TurnClientState.Failed);
    }

    [Fact]
    public async Task AllocationIsRefreshedAndKeepsWorking()
    {
        // Refresh after 0.3 % of the lifetime: about 2 s for 600 s.
        await using RelayClient client = await ConnectAsync(TurnServerTransport.Udp, client: new TurnClientOptions
        {
            RefreshFraction = 0.003,
            Retransmission = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxSends = 5, FinalWaitMultiplier = 8 },
        });
        var refreshed = new TaskCompletionSource<TurnOperationResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OperationCompleted += r =>
        {
            if (r.Operation == TurnOperation.Refresh)
            {
                refreshed.TrySetResult(r);
            }
        };
        RelayAllocation allocation = await client.AllocateAsync(Cancel).WaitAsync(Timeout, Cancel);
        TurnOperationResult result = await refreshed.Task.WaitAsync(Timeout, Cancel);
        result.Succeeded.ShouldBeTrue(result.Error?.Message);
        result.IsAutomatic.ShouldBeTrue();
        client.State.ShouldBe(TurnClientState.Allocated);
        client.Allocation!.RelayedAddress.ShouldBe(allocation.RelayedAddress);
        await client.CreatePermissionAsync(IPAddress.Loopback, Cancel).WaitAsync(Timeout, Cancel);
    }
}
