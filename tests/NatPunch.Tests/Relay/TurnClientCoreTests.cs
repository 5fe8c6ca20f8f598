using System.Net;
using System.Text;
using NatPunch.Protocol.Stun;
using NatPunch.Relay;
using NatPunch.Server.Turn;
using NatPunch.Stun;

namespace NatPunch.Tests.Relay;

public sealed class TurnClientCoreTests
{
    private static readonly IPEndPoint Peer = IPEndPoint.Parse("203.0.113.7:5000");

    private static StunMessageType TypeOf(byte[] message) => StunMessageType.FromValue((ushort)((message[0] << 8) | message[1]));

    [Fact]
    public void AllocateIsChallengedThenSucceedsWithTheGrantedAddresses()
    {
        var harness = new TurnClientHarness();
        RelayAllocation? granted = null;
        harness.Client.Allocated += a => granted = a;
        harness.Allocate();

        harness.ToServer.Count.ShouldBe(2);
        TypeOf(harness.ToServer[0]).ShouldBe(new StunMessageType(StunMethod.Allocate, StunClass.Request));
        StunMessage.TryParse(harness.ToServer[0], out StunMessage first, out _).ShouldBeTrue();
        first.IntegrityOffset.ShouldBeLessThan(0);
        StunMessage.TryParse(harness.ToServer[1], out StunMessage second, out _).ShouldBeTrue();
        second.IntegrityOffset.ShouldBeGreaterThan(0);

        granted.ShouldNotBeNull();
        granted.RelayedAddress.Address.ShouldBe(harness.Environment.RelayIPv4);
        granted.MappedAddress.ShouldBe(IPEndPoint.Parse("192.0.2.10:40000"));
        granted.Lifetime.ShouldBe(TimeSpan.FromSeconds(600));
        harness.Client.Realm.ShouldBe("test.realm");
        harness.Server.AllocationCount.ShouldBe(1);
    }

    [Fact]
    public void WrongPasswordFailsWithWrongCredentials()
    {
        var harness = new TurnClientHarness(credentials: new TurnCredentials("alice", "not-it"));
        harness.Client.Allocate(harness.Now);
        harness.Pump();
        harness.Client.State.ShouldBe(TurnClientState.Failed);
        harness.Client.Error!.Kind.ShouldBe(TurnErrorKind.WrongCredentials);
        harness.Client.Error.Code.ShouldBe(401);
        harness.Client.Error.Message.ShouldContain("wrong username or password");
        harness.ToServer.Count.ShouldBe(2);
    }

    [Fact]
    public void RestSecretCredentialsAreAccepted()
    {
        var harness = new TurnClientHarness(
            serverOptions: new TurnOptions { Realm = "test.realm", Secret = "north-wind" },
            credentials: TurnCredentials.FromSharedSecret("north-wind", TurnClientHarness.Epoch.AddHours(1), "carol"));
        harness.Allocate();
    }

    [Fact]
    public void UnreachableServerTimesOut()
    {
        var harness = new TurnClientHarness { ServerReachable = false };
        harness.Client.Allocate(harness.Now);
        harness.Run(TimeSpan.FromSeconds(10));
        harness.Client.State.ShouldBe(TurnClientState.Failed);
        harness.Client.Error!.Kind.ShouldBe(TurnErrorKind.Timeout);
        harness.ToServer.Count.ShouldBe(4);
        harness.Client.NextWakeUp.ShouldBeNull();
    }

    [Fact]
    public void SendIndicationAndDataIndicationCarryDataBothWays()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        harness.Client.CreatePermission(Peer.Address, harness.Now);
        harness.Pump();
        harness.Results[^1].ShouldBe(new TurnOperationResult(TurnOperation.CreatePermission, new IPEndPoint(Peer.Address, 0), 0, null, false));
        harness.Client.Permissions.ShouldContain(Peer.Address);

        harness.Client.Send(Peer, "hello"u8, harness.Now);
        harness.Pump();
        TypeOf(harness.ToServer[^1]).ShouldBe(new StunMessageType(StunMethod.Send, StunClass.Indication));
        harness.Relay.Sent.ShouldHaveSingleItem().ShouldSatisfyAllConditions(
            s => s.Peer.ShouldBe(Peer), s => Encoding.ASCII.GetString(s.Data).ShouldBe("hello"));

        harness.Server.HandleFromPeer(harness.Relay, Peer, "world"u8, TurnClientHarness.Epoch + harness.Now);
        harness.Pump();
        TurnDatagram received = harness.Received().ShouldHaveSingleItem();
        received.Peer.ShouldBe(Peer);
        received.ViaChannel.ShouldBeFalse();
        Encoding.ASCII.GetString(received.Payload.Span).ShouldBe("world");
    }

    [Fact]
    public void ChannelDataIsUsedOnceTheChannelIsBound()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        ushort channel = harness.Client.BindChannel(Peer, harness.Now);
        channel.ShouldBe((ushort)0x4000);
        harness.Pump();
        harness.Client.TryGetChannel(Peer, out ushort bound).ShouldBeTrue();
        bound.ShouldBe(channel);

        harness.Client.Send(Peer, "over the channel"u8, harness.Now);
        harness.Pump();
        harness.ToServer[^1][0].ShouldBe((byte)0x40);
        Encoding.ASCII.GetString(harness.Relay.Sent.ShouldHaveSingleItem().Data).ShouldBe("over the channel");

        harness.Server.HandleFromPeer(harness.Relay, Peer, "and back"u8, TurnClientHarness.Epoch + harness.Now);
        harness.Pump();
        TurnDatagram received = harness.Received().ShouldHaveSingleItem();
        received.ViaChannel.ShouldBeTrue();
        received.Peer.ShouldBe(Peer);
        Encoding.ASCII.GetString(received.Payload.Span).ShouldBe("and back");
    }

    [Fact]
    public void AllocationPermissionsAndChannelsAreRefreshedBeforeTheyExpire()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        IPEndPoint other = IPEndPoint.Parse("203.0.113.9:6000");
        harness.Client.CreatePermission(other.Address, harness.Now);
        harness.Client.BindChannel(Peer, harness.Now);
        harness.Pump();

        harness.Run(TimeSpan.FromMinutes(35));

        harness.Client.State.ShouldBe(TurnClientState.Allocated);
        harness.Server.AllocationCount.ShouldBe(1);
        harness.Results.Where(r => r.Operation == TurnOperation.Refresh).Count().ShouldBeGreaterThanOrEqualTo(4);
        harness.Results.ShouldAllBe(r => r.Succeeded);
        harness.Client.Allocation!.Lifetime.ShouldBe(TimeSpan.FromSeconds(600));

        // Both peers can still reach the client: the permissions and the channel are alive.
        harness.Server.HandleFromPeer(harness.Relay, Peer, "a"u8, TurnClientHarness.Epoch + harness.Now);
        harness.Server.HandleFromPeer(harness.Relay, other, "b"u8, TurnClientHarness.Epoch + harness.Now);
        harness.Pump();
        List<TurnDatagram> received = harness.Received();
        received.Count.ShouldBe(2);
        received[0].ViaChannel.ShouldBeTrue();
        received[1].ViaChannel.ShouldBeFalse();
    }

    [Fact]
    public void StaleNonceIsRetriedWithTheNewNonce()
    {
        var harness = new TurnClientHarness(serverOptions: new TurnOptions
        {
            Realm = "test.realm",
            Users = new Dictionary<string, string> { ["alice"] = "wonderland" },
            NonceLifetime = TimeSpan.FromSeconds(30),
        });
        harness.Allocate();
        harness.Run(TimeSpan.FromSeconds(60));
        int before = harness.ToServer.Count;
        harness.Client.CreatePermission(Peer.Address, harness.Now);
        harness.Pump();
        harness.ToServer.Count.ShouldBe(before + 2);
        harness.Results[^1].Succeeded.ShouldBeTrue(harness.Results[^1].Error?.Message);
    }

    [Fact]
    public void ForbiddenPeerIsReportedAndForgotten()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        harness.Client.CreatePermission(IPAddress.Loopback, harness.Now);
        harness.Pump();
        TurnOperationResult result = harness.Results[^1];
        result.Error!.Kind.ShouldBe(TurnErrorKind.Forbidden);
        result.Error.Code.ShouldBe(403);
        harness.Client.Permissions.ShouldBeEmpty();
        harness.Client.NextWakeUp.ShouldBe(TimeSpan.FromSeconds(450));
    }

    [Fact]
    public void QuotaIsReported()
    {
        var harness = new TurnClientHarness(serverOptions: new TurnOptions
        {
            Realm = "test.realm",
            Users = new Dictionary<string, string> { ["alice"] = "wonderland" },
            UserQuota = 1,
        });
        harness.Allocate();
        TurnClientCore second = harness.AddClient(new TurnCredentials("alice", "wonderland"), null, "192.0.2.11:40000");
        second.Allocate(harness.Now);
        harness.Pump();
        second.State.ShouldBe(TurnClientState.Failed);
        second.Error!.Kind.ShouldBe(TurnErrorKind.QuotaReached);
        second.Error.Code.ShouldBe(486);
    }

    [Fact]
    public void CloseDeletesTheAllocation()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        harness.Client.Close(harness.Now);
        harness.Client.State.ShouldBe(TurnClientState.Closing);
        harness.Pump();
        harness.Client.State.ShouldBe(TurnClientState.Closed);
        harness.Server.AllocationCount.ShouldBe(0);
        StunMessage.TryParse(harness.ToServer[^1], out StunMessage refresh, out _).ShouldBeTrue();
        refresh.Type.Method.ShouldBe(StunMethod.Refresh);
        refresh.TryGetUInt32(StunAttributeType.Lifetime, out uint lifetime).ShouldBeTrue();
        lifetime.ShouldBe(0u);
        harness.Client.NextWakeUp.ShouldBeNull();
    }

    [Fact]
    public void DatagramsFromElsewhereAreIgnored()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        harness.Client.HandleDatagram([0x40, 0x00, 0x00, 0x01, 0xFF], IPEndPoint.Parse("203.0.113.66:3478"), harness.Now);
        harness.Client.HandleDatagram([0x40, 0x01, 0x00, 0x01, 0xFF], TurnClientHarness.ServerAddress, harness.Now);
        harness.Received().ShouldBeEmpty();
        harness.Client.IgnoredDatagrams.ShouldBe(2);
    }

    [Fact]
    public void LostRequestsAreRetransmittedWithTheSameTransaction()
    {
        var harness = new TurnClientHarness { DropToServer = 2 };
        harness.Client.Allocate(harness.Now);
        harness.Run(TimeSpan.FromSeconds(1));
        harness.Client.State.ShouldBe(TurnClientState.Allocated);
        harness.ToServer.Count.ShouldBe(4);
        harness.ToServer[0].ShouldBe(harness.ToServer[1]);
        harness.ToServer[1].ShouldBe(harness.ToServer[2]);
    }

    [Fact]
    public void OverAReliableTransportRequestsAreSentOnceAndChannelDataIsPadded()
    {
        var options = new TurnClientOptions
        {
            Reliable = true,
            Retransmission = new StunRetransmissionOptions { ReliableTimeout = TimeSpan.FromSeconds(5) },
        };
        var harness = new TurnClientHarness(clientOptions: options);
        harness.Allocate();
        harness.Client.BindChannel(Peer, harness.Now);
        harness.Pump();
        harness.Client.Send(Peer, "12345"u8, harness.Now);
        harness.Pump();
        harness.ToServer[^1].Length.ShouldBe(12);
        harness.Relay.Sent.ShouldHaveSingleItem().Data.Length.ShouldBe(5);

        var unreachable = new TurnClientHarness(clientOptions: options) { ServerReachable = false };
        unreachable.Client.Allocate(unreachable.Now);
        unreachable.Run(TimeSpan.FromSeconds(10));
        unreachable.ToServer.Count.ShouldBe(1);
        unreachable.Client.Error!.Kind.ShouldBe(TurnErrorKind.Timeout);
    }

    [Fact]
    public void AllocationMismatchOnRefreshMeansTheAllocationIsLost()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        var states = new List<TurnClientState>();
        harness.Client.StateChanged += states.Add;
        harness.Server.Clear();
        harness.Run(TimeSpan.FromSeconds(500));
        states.ShouldBe([TurnClientState.Failed]);
        harness.Client.Error!.Kind.ShouldBe(TurnErrorKind.AllocationMismatch);
        Should.Throw<InvalidOperationException>(() => harness.Client.Send(Peer, "x"u8, harness.Now));
    }

    [Fact]
    public void RefreshNowAsksAtOnceAndAServerThatForgotTheAllocationLosesIt()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        harness.Client.RefreshNow(harness.Now);
        harness.Pump();
        harness.Results.ShouldContain(r => r.Operation == TurnOperation.Refresh && r.Succeeded);
        harness.Client.State.ShouldBe(TurnClientState.Allocated);

        harness.Server.Clear(); // a restarted server
        harness.Client.RefreshNow(harness.Now);
        harness.Pump();
        harness.Client.State.ShouldBe(TurnClientState.Failed);
        harness.Client.Error!.Kind.ShouldBe(TurnErrorKind.AllocationMismatch);
    }

    [Fact]
    public void RefreshNowSendsNothingWhileARefreshIsPending()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        harness.ServerReachable = false;
        int sent = harness.ToServer.Count;
        harness.Client.RefreshNow(harness.Now);
        harness.Client.RefreshNow(harness.Now);
        harness.Pump();
        harness.ToServer.Count.ShouldBe(sent + 1);
    }

    [Fact]
    public void AllocationMismatchOnCreatePermissionMeansTheAllocationIsLost()
    {
        var harness = new TurnClientHarness();
        harness.Allocate();
        harness.Server.Clear();
        harness.Client.CreatePermission(Peer.Address, harness.Now);
        harness.Pump();
        harness.Client.State.ShouldBe(TurnClientState.Failed);
        harness.Client.Error!.Kind.ShouldBe(TurnErrorKind.AllocationMismatch);
    }

    [Fact]
    public void RequestedAddressFamilyAndLifetimeAreSent()
    {
        var harness = new TurnClientHarness(clientOptions: new TurnClientOptions
        {
            RequestedAddressFamily = Protocol.Turn.RequestedAddressFamily.IPv4,
            RequestedLifetime = TimeSpan.FromSeconds(1200),
        });
        harness.Allocate();
        StunMessage.TryParse(harness.ToServer[1], out StunMessage allocate, out _).ShouldBeTrue();
        allocate.TryGetAttribute(StunAttributeType.RequestedAddressFamily, out ReadOnlySpan<byte> family).ShouldBeTrue();
        family[0].ShouldBe(Protocol.Turn.RequestedAddressFamily.IPv4);
        harness.Client.Allocation!.Lifetime.ShouldBe(TimeSpan.FromSeconds(1200));
        harness.Client.NextWakeUp.ShouldBe(TimeSpan.FromSeconds(900));
    }
}
