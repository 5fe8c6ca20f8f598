using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Server.Turn;

namespace NatPunch.Tests.Turn;

public sealed class TurnCoreTests
{
    private static readonly IPEndPoint ServerAddress = IPEndPoint.Parse("198.51.100.1:3478");
    private static readonly IPEndPoint PublicPeer = IPEndPoint.Parse("203.0.113.7:5000");

    private readonly FakeTurnEnvironment _environment = new();
    private TurnCore _core = null!;

    private TurnTestClient Setup(TurnOptions? options = null, string clientAddress = "192.0.2.10:40000", TurnClientTransport transport = TurnClientTransport.Udp)
    {
        options ??= new TurnOptions { Realm = TurnTestClient.Realm, Users = new Dictionary<string, string> { ["alice"] = "wonderland", ["bob"] = "builder" } };
        _core = new TurnCore(options with { Realm = TurnTestClient.Realm }, _environment, random: new Random(7));
        return NewClient(clientAddress, transport);
    }

    private TurnTestClient NewClient(string clientAddress, TurnClientTransport transport = TurnClientTransport.Udp, string user = "alice", string password = "wonderland") =>
        new(_core, _environment, TurnClient.Create(IPEndPoint.Parse(clientAddress), ServerAddress, transport)) { Username = user, Password = password };

    [Fact]
    public void UnsignedAllocateIsChallengedThenSignedOneSucceeds()
    {
        TurnTestClient client = Setup();
        TurnTestClient.Response challenge = client.Parse(client.Request(StunMethod.Allocate, TurnTestClient.RequestedUdp, sign: false));
        challenge.ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
        challenge.Realm.ShouldBe(TurnTestClient.Realm);
        challenge.Nonce.ShouldNotBeNullOrEmpty();
        challenge.HasIntegrity.ShouldBeFalse();

        client.Nonce = challenge.Nonce;
        TurnTestClient.Response allocated = client.Allocate();
        allocated.IsSuccess.ShouldBeTrue(allocated.ToString());
        allocated.IntegrityValid.ShouldBeTrue();
        allocated.Mapped.ShouldBe(client.Client.Remote);
        allocated.Relayed!.Address.ShouldBe(_environment.RelayIPv4);
        allocated.Relayed.Port.ShouldBeInRange(49152, 65535);
        allocated.Lifetime.ShouldBe(600u);
        _core.AllocationCount.ShouldBe(1);
    }

    [Fact]
    public void TheServersOwnServicePortIsNoPeerWhileOtherPortsOfItsAddressAre()
    {
        TurnTestClient client = Setup();
        _core.ProtectServiceEndPoints([IPEndPoint.Parse("0.0.0.0:3478"), IPEndPoint.Parse("0.0.0.0:3479")]);
        client.Allocate().IsSuccess.ShouldBeTrue();
        var own = new IPEndPoint(_environment.RelayIPv4, 3478);
        var anotherRelay = new IPEndPoint(_environment.RelayIPv4, 50000); // another allocation on this server: a relayed peer
        client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(own))).IsSuccess.ShouldBeTrue();

        TurnTestClient.Response bind = client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, own)));
        bind.ErrorCode.ShouldBe(StunErrorCode.Forbidden);
        client.Indication(StunMethod.Send, (ref StunMessageBuilder b) =>
        {
            b.AddXorAddress(StunAttributeType.XorPeerAddress, own);
            b.AddBytes(StunAttributeType.Data, "loop"u8);
        });
        client.Indication(StunMethod.Send, (ref StunMessageBuilder b) =>
        {
            b.AddXorAddress(StunAttributeType.XorPeerAddress, anotherRelay);
            b.AddBytes(StunAttributeType.Data, "fine"u8);
        });
        _environment.Relays.ShouldHaveSingleItem().Sent.ShouldHaveSingleItem().Peer.ShouldBe(anotherRelay);
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, anotherRelay))).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public void WrongPasswordIsUnauthorizedWithAFreshChallenge()
    {
        TurnTestClient client = Setup();
        client.Password = "not-it";
        TurnTestClient.Response response = client.Allocate();
        response.ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
        response.Nonce.ShouldNotBeNull();
        _core.AllocationCount.ShouldBe(0);
    }

    [Fact]
    public void UnknownUserAndWrongRealmAreUnauthorized()
    {
        TurnTestClient client = Setup();
        client.Username = "mallory";
        client.Allocate().ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
    }

    [Fact]
    public void IntegrityWithoutNonceIsBadRequest()
    {
        TurnTestClient client = Setup();
        byte[] buffer = new byte[512];
        var builder = new StunMessageBuilder(buffer, new StunMessageType(StunMethod.Allocate, StunClass.Request), TransactionId.NewRandom());
        TurnTestClient.RequestedUdp(ref builder);
        builder.AddString(StunAttributeType.Username, "alice");
        builder.AddString(StunAttributeType.Realm, TurnTestClient.Realm);
        builder.AddMessageIntegrity(client.Key);
        _core.HandleFromClient(client.Client, builder.Written, client.Now);
        client.Parse(_environment.TakeLast()).ErrorCode.ShouldBe(StunErrorCode.BadRequest);
    }

    [Fact]
    public void ExpiredNonceGets438ThenTheNewNonceWorks()
    {
        TurnTestClient client = Setup();
        client.Allocate(TurnTestClient.Lifetime(3600)).IsSuccess.ShouldBeTrue();
        client.Now += TimeSpan.FromMinutes(11);
        TurnTestClient.Response stale = client.Parse(client.Request(StunMethod.Refresh));
        stale.ErrorCode.ShouldBe(StunErrorCode.StaleNonce);
        stale.Nonce.ShouldNotBe(client.Nonce);
        stale.Realm.ShouldBe(TurnTestClient.Realm);
        client.Nonce = stale.Nonce;
        client.Parse(client.Request(StunMethod.Refresh)).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public void NonceFromAnotherAddressIsStale()
    {
        TurnTestClient first = Setup();
        first.Allocate().IsSuccess.ShouldBeTrue();
        TurnTestClient other = NewClient("192.0.2.99:40000");
        other.Nonce = first.Nonce;
        other.Parse(other.Request(StunMethod.Allocate, TurnTestClient.RequestedUdp)).ErrorCode.ShouldBe(StunErrorCode.StaleNonce);
    }

    [Fact]
    public void RestApiSecretAcceptsValidUsernamesAndRefusesExpiredOnes()
    {
        var options = new TurnOptions { Secret = "s3cret" };
        TurnTestClient client = Setup(options);
        string username = TurnRestCredentials.Username(client.Now.AddHours(1), "carol");
        client.Username = username;
        client.Password = TurnRestCredentials.Password("s3cret", username);
        client.Allocate().IsSuccess.ShouldBeTrue();

        TurnTestClient late = NewClient("192.0.2.11:40000");
        late.Username = TurnRestCredentials.Username(client.Now.AddSeconds(-1), "carol");
        late.Password = TurnRestCredentials.Password("s3cret", late.Username);
        late.Allocate().ErrorCode.ShouldBe(StunErrorCode.Unauthorized);

        TurnTestClient wrong = NewClient("192.0.2.12:40000");
        wrong.Username = username;
        wrong.Password = TurnRestCredentials.Password("other", username);
        wrong.Allocate().ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
    }

    [Fact]
    public void NoAuthModeAllocatesWithoutCredentials()
    {
        TurnTestClient client = Setup(new TurnOptions { NoAuth = true });
        client.Username = null;
        TurnTestClient.Response response = client.Allocate();
        response.IsSuccess.ShouldBeTrue();
        response.HasIntegrity.ShouldBeFalse();
    }

    [Fact]
    public void MalformedAllocatesGetTheRightCodes()
    {
        TurnTestClient client = Setup();
        client.Allocate().IsSuccess.ShouldBeTrue();
        TurnTestClient other = NewClient("192.0.2.10:21");
        other.Nonce = client.Nonce;
        other.Client.ShouldNotBe(client.Client);
        TurnTestClient.Response noTransport = other.Parse(other.Request(StunMethod.Allocate));
        noTransport.ErrorCode.ShouldBe(StunErrorCode.BadRequest);
        noTransport.IntegrityValid.ShouldBeTrue();

        TurnTestClient fresh = NewClient("192.0.2.10:22");
        fresh.Allocate((ref StunMessageBuilder _) => { }).IsSuccess.ShouldBeTrue();
        TurnTestClient tcp = NewClient("192.0.2.10:23");
        tcp.Nonce = fresh.Nonce;
        tcp.Parse(tcp.Request(StunMethod.Allocate, (ref StunMessageBuilder b) => b.AddUInt32(StunAttributeType.RequestedTransport, (uint)TurnTransport.Tcp << 24)))
            .ErrorCode.ShouldBe(StunErrorCode.UnsupportedTransportProtocol);
        TurnTestClient family = NewClient("192.0.2.10:24");
        family.Allocate((ref StunMessageBuilder b) => b.AddUInt32(StunAttributeType.RequestedAddressFamily, 0x03u << 24))
            .ErrorCode.ShouldBe(StunErrorCode.AddressFamilyNotSupported);
        TurnTestClient v6 = NewClient("192.0.2.10:25");
        v6.Allocate((ref StunMessageBuilder b) => b.AddUInt32(StunAttributeType.RequestedAddressFamily, (uint)RequestedAddressFamily.IPv6 << 24))
            .ErrorCode.ShouldBe(StunErrorCode.AddressFamilyNotSupported);
        TurnTestClient unknown = NewClient("192.0.2.10:26");
        unknown.Allocate((ref StunMessageBuilder b) => b.AddUInt32(0x0031, 1)).ErrorCode.ShouldBe(StunErrorCode.UnknownAttribute);
        TurnTestClient both = NewClient("192.0.2.10:27");
        both.Allocate((ref StunMessageBuilder b) => { b.AddUInt64(StunAttributeType.ReservationToken, 1); b.AddBytes(StunAttributeType.EvenPort, [0]); })
            .ErrorCode.ShouldBe(StunErrorCode.BadRequest);
    }

    [Fact]
    public void Ipv6RelayWhenAvailable()
    {
        _environment.RelayIPv6 = IPAddress.Parse("2001:db8::1");
        TurnTestClient client = Setup();
        TurnTestClient.Response response = client.Allocate((ref StunMessageBuilder b) =>
            b.AddUInt32(StunAttributeType.RequestedAddressFamily, (uint)RequestedAddressFamily.IPv6 << 24));
        response.IsSuccess.ShouldBeTrue();
        response.Relayed!.Address.ShouldBe(IPAddress.Parse("2001:db8::1"));
        // An IPv4 peer on an IPv6 relay: 443.
        client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(PublicPeer))).ErrorCode.ShouldBe(StunErrorCode.PeerAddressFamilyMismatch);
    }

    [Fact]
    public void SecondAllocateOnTheSame5TupleIsMismatchButARetransmissionGetsTheSameAnswer()
    {
        TurnTestClient client = Setup();
        client.Allocate().IsSuccess.ShouldBeTrue();
        var id = TransactionId.NewRandom();
        client.Parse(client.Request(StunMethod.Allocate, TurnTestClient.RequestedUdp, id: id)).ErrorCode.ShouldBe(StunErrorCode.AllocationMismatch);

        TurnTestClient second = NewClient("192.0.2.10:301");
        second.Nonce = client.Nonce;
        var original = TransactionId.NewRandom();
        byte[] first = second.Request(StunMethod.Allocate, TurnTestClient.RequestedUdp, id: original);
        byte[] again = second.Request(StunMethod.Allocate, TurnTestClient.RequestedUdp, id: original);
        again.ShouldBe(first);
        _core.AllocationCount.ShouldBe(2);
    }

    [Fact]
    public void RequestsWithoutAnAllocationAre437AndAnotherUsersAre441()
    {
        TurnTestClient client = Setup();
        TurnTestClient.Response challenge = client.Parse(client.Request(StunMethod.Refresh));
        client.Nonce = challenge.Nonce;
        client.Parse(client.Request(StunMethod.Refresh)).ErrorCode.ShouldBe(StunErrorCode.AllocationMismatch);
        client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(PublicPeer))).ErrorCode.ShouldBe(StunErrorCode.AllocationMismatch);
        client.Allocate().IsSuccess.ShouldBeTrue();
        client.Username = "bob";
        client.Password = "builder";
        client.Parse(client.Request(StunMethod.Refresh)).ErrorCode.ShouldBe(StunErrorCode.WrongCredentials);
    }

    [Fact]
    public void LifetimesAreClampedAndRefreshZeroDeletes()
    {
        TurnTestClient client = Setup();
        client.Allocate(TurnTestClient.Lifetime(100_000)).Lifetime.ShouldBe(3600u);
        client.Parse(client.Request(StunMethod.Refresh, TurnTestClient.Lifetime(30))).Lifetime.ShouldBe(600u);
        client.Parse(client.Request(StunMethod.Refresh, TurnTestClient.Lifetime(1200))).Lifetime.ShouldBe(1200u);
        client.Parse(client.Request(StunMethod.Refresh)).Lifetime.ShouldBe(600u);
        TurnTestClient.Response deleted = client.Parse(client.Request(StunMethod.Refresh, TurnTestClient.Lifetime(0)));
        deleted.IsSuccess.ShouldBeTrue();
        deleted.Lifetime.ShouldBe(0u);
        _core.AllocationCount.ShouldBe(0);
        _environment.Relays[0].Disposed.ShouldBeTrue();
        client.Parse(client.Request(StunMethod.Refresh)).ErrorCode.ShouldBe(StunErrorCode.AllocationMismatch);
    }

    [Fact]
    public void AllocationExpiresWithoutRefresh()
    {
        TurnTestClient client = Setup();
        client.Allocate().IsSuccess.ShouldBeTrue();
        _core.Expire(client.Now + TimeSpan.FromSeconds(599));
        _core.AllocationCount.ShouldBe(1);
        client.Now += TimeSpan.FromSeconds(500);
        client.Parse(client.Request(StunMethod.Refresh)).IsSuccess.ShouldBeTrue();
        _core.Expire(client.Now + TimeSpan.FromSeconds(599));
        _core.AllocationCount.ShouldBe(1);
        _core.Expire(client.Now + TimeSpan.FromSeconds(600));
        _core.AllocationCount.ShouldBe(0);
        _environment.Relays[0].Disposed.ShouldBeTrue();
    }

    [Fact]
    public void PermissionsGateSendAndDataAndExpireAfter300Seconds()
    {
        TurnTestClient client = Setup();
        client.Allocate().IsSuccess.ShouldBeTrue();
        FakeTurnEnvironment.FakeRelay relay = _environment.Relays[0];
        void Send(byte[] data) => client.Indication(StunMethod.Send, (ref StunMessageBuilder b) =>
        {
            b.AddXorAddress(StunAttributeType.XorPeerAddress, PublicPeer);
            b.AddBytes(StunAttributeType.Data, data);
        });

        Send([1, 2, 3]);
        relay.Sent.ShouldBeEmpty();
        _core.HandleFromPeer(relay, PublicPeer, [9], client.Now);
        _environment.ToClients.ShouldBeEmpty();

        client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(PublicPeer))).IsSuccess.ShouldBeTrue();
        Send([1, 2, 3]);
        relay.Sent.Single().Peer.ShouldBe(PublicPeer);
        relay.Sent.Single().Data.ShouldBe(new byte[] { 1, 2, 3 });
        // Permission is per IP: another port of the same peer may answer.
        var otherPort = new IPEndPoint(PublicPeer.Address, 6000);
        _core.HandleFromPeer(relay, otherPort, [4, 5], client.Now);
        byte[] indication = _environment.TakeLast();
        StunMessage.TryParse(indication, out StunMessage data, out _).ShouldBeTrue();
        data.Type.ShouldBe(new StunMessageType(StunMethod.Data, StunClass.Indication));
        data.TryGetXorAddress(StunAttributeType.XorPeerAddress, out IPEndPoint from).ShouldBeTrue();
        from.ShouldBe(otherPort);
        data.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> payload).ShouldBeTrue();
        payload.ToArray().ShouldBe(new byte[] { 4, 5 });

        client.Now += TimeSpan.FromSeconds(300);
        relay.Sent.Clear();
        Send([1]);
        relay.Sent.ShouldBeEmpty();
        _core.HandleFromPeer(relay, PublicPeer, [9], client.Now);
        _environment.ToClients.ShouldBeEmpty();
    }

    [Fact]
    public void ChannelsCarryDataBothWaysAndFollowTheBindingRules()
    {
        TurnTestClient client = Setup();
        client.Allocate().IsSuccess.ShouldBeTrue();
        FakeTurnEnvironment.FakeRelay relay = _environment.Relays[0];
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x3FFF, PublicPeer))).ErrorCode.ShouldBe(StunErrorCode.BadRequest);
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x8000, PublicPeer))).ErrorCode.ShouldBe(StunErrorCode.BadRequest);
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, PublicPeer))).IsSuccess.ShouldBeTrue();
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, PublicPeer))).IsSuccess.ShouldBeTrue();
        var otherPeer = IPEndPoint.Parse("203.0.113.8:5000");
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, otherPeer))).ErrorCode.ShouldBe(StunErrorCode.BadRequest);
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4001, PublicPeer))).ErrorCode.ShouldBe(StunErrorCode.BadRequest);

        client.ChannelData(0x4000, [7, 7]);
        relay.Sent.Single().Peer.ShouldBe(PublicPeer);
        relay.Sent.Single().Data.ShouldBe(new byte[] { 7, 7 });
        client.ChannelData(0x4001, [1]);
        relay.Sent.Count.ShouldBe(1);

        _core.HandleFromPeer(relay, PublicPeer, [1, 2, 3], client.Now);
        byte[] message = _environment.TakeLast();
        message.ShouldBe(new byte[] { 0x40, 0x00, 0x00, 0x03, 1, 2, 3 });

        // After 600 s the channel is gone, and reserved for 5 more minutes.
        client.Parse(client.Request(StunMethod.Refresh, TurnTestClient.Lifetime(3600))).IsSuccess.ShouldBeTrue();
        client.Now += TimeSpan.FromSeconds(600);
        client.Nonce = client.Parse(client.Request(StunMethod.Refresh)).Nonce;
        client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(PublicPeer))).IsSuccess.ShouldBeTrue();
        relay.Sent.Clear();
        client.ChannelData(0x4000, [1]);
        relay.Sent.ShouldBeEmpty();
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, otherPeer))).ErrorCode.ShouldBe(StunErrorCode.BadRequest);
        client.Now += TimeSpan.FromSeconds(301);
        _core.Expire(client.Now);
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, otherPeer))).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public void ChannelDataToATcpClientIsPadded()
    {
        TurnTestClient client = Setup(transport: TurnClientTransport.Tcp);
        client.Allocate().IsSuccess.ShouldBeTrue();
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4ABC, PublicPeer))).IsSuccess.ShouldBeTrue();
        _core.HandleFromPeer(_environment.Relays[0], PublicPeer, [1, 2, 3, 4, 5], client.Now);
        _environment.TakeLast().ShouldBe(new byte[] { 0x4A, 0xBC, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0 });
        _core.OnClientDisconnected(client.Client);
        _core.AllocationCount.ShouldBe(0);
    }

    [Theory]
    [InlineData("127.0.0.1:9", false, null, StunErrorCode.Forbidden)]
    [InlineData("127.0.0.1:9", true, null, 0)]
    [InlineData("10.1.2.3:9", true, null, StunErrorCode.Forbidden)]
    [InlineData("10.1.2.3:9", false, "10.0.0.0/8", 0)]
    [InlineData("192.168.1.1:9", false, "10.0.0.0/8", StunErrorCode.Forbidden)]
    [InlineData("172.20.0.1:9", false, null, StunErrorCode.Forbidden)]
    [InlineData("169.254.1.1:9", false, null, StunErrorCode.Forbidden)]
    [InlineData("224.0.0.1:9", false, null, StunErrorCode.Forbidden)]
    [InlineData("203.0.113.1:9", false, null, 0)]
    [InlineData("192.0.0.170:9", false, null, StunErrorCode.Forbidden)]
    [InlineData("198.19.1.1:9", false, null, StunErrorCode.Forbidden)]
    [InlineData("198.19.1.1:9", false, "198.18.0.0/15", 0)]
    public void PeerPolicy(string peer, bool allowLoopback, string? allowed, int expected)
    {
        var options = new TurnOptions
        {
            Users = new Dictionary<string, string> { ["alice"] = "wonderland" },
            AllowLoopbackPeers = allowLoopback,
            AllowedPeers = allowed is null ? [] : [IPNetwork.Parse(allowed)],
        };
        TurnTestClient client = Setup(options);
        client.Allocate().IsSuccess.ShouldBeTrue();
        TurnTestClient.Response permission = client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(IPEndPoint.Parse(peer))));
        permission.ErrorCode.ShouldBe(expected);
        TurnTestClient.Response channel = client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, IPEndPoint.Parse(peer))));
        channel.ErrorCode.ShouldBe(expected);
    }

    /// <summary>IPv6 peers that carry an IPv4 address are judged by it (an IPv6 allocation would relay to them).</summary>
    [Theory]
    [InlineData("64:ff9b::a01:203", false, false)]   // NAT64 of 10.1.2.3
    [InlineData("64:ff9b::7f00:1", false, false)]    // NAT64 of 127.0.0.1
    [InlineData("64:ff9b::7f00:1", true, true)]      // ... with loopback peers allowed
    [InlineData("64:ff9b::cb00:7101", false, true)]  // NAT64 of 203.0.113.1
    [InlineData("2002:c0a8:101::1", false, false)]   // 6to4 of 192.168.1.1
    [InlineData("2002:cb00:7101::1", false, true)]   // 6to4 of 203.0.113.1
    [InlineData("2001:db8::1", false, true)]
    public void IPv6PeersCarryingAnIPv4AddressAreJudgedByIt(string peer, bool allowLoopback, bool allowed)
    {
        var policy = new PeerAddressPolicy(new TurnOptions { AllowLoopbackPeers = allowLoopback });

        policy.IsAllowed(IPAddress.Parse(peer)).ShouldBe(allowed);
    }

    [Fact]
    public void OneSourceGetsAtMostItsAllocationsWhateverTheUserAndAnIPv6SourceIsItsSlash64()
    {
        var users = new Dictionary<string, string> { ["alice"] = "wonderland", ["bob"] = "builder" };
        TurnTestClient first = Setup(new TurnOptions { Users = users, AllocationsPerAddress = 2 });
        first.Allocate().IsSuccess.ShouldBeTrue();
        NewClient("192.0.2.10:40001", user: "bob", password: "builder").Allocate().IsSuccess.ShouldBeTrue();
        NewClient("192.0.2.10:40002", user: "bob", password: "builder").Allocate().ErrorCode.ShouldBe(StunErrorCode.AllocationQuotaReached);
        NewClient("192.0.2.11:40000").Allocate().IsSuccess.ShouldBeTrue("another source has its own share");
        _core.Counters.QuotaRefusals.ShouldBe(1);

        // Deleting one gives the source its place back.
        first.Parse(first.Request(StunMethod.Refresh, TurnTestClient.Lifetime(0))).IsSuccess.ShouldBeTrue();
        NewClient("192.0.2.10:40003").Allocate().IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public void AnAllocationHoldsPermissionsForAtMostItsLimitOfPeers()
    {
        TurnTestClient client = Setup(new TurnOptions { Users = new Dictionary<string, string> { ["alice"] = "wonderland" }, MaxPermissionsPerAllocation = 2 });
        client.Allocate().IsSuccess.ShouldBeTrue();
        client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(IPEndPoint.Parse("203.0.113.1:1")))).IsSuccess.ShouldBeTrue();
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, IPEndPoint.Parse("203.0.113.2:1")))).IsSuccess.ShouldBeTrue();
        // Refreshing a peer it has is fine; a third peer is not.
        client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(IPEndPoint.Parse("203.0.113.1:2")))).IsSuccess.ShouldBeTrue();
        client.Parse(client.Request(StunMethod.CreatePermission, TurnTestClient.Peer(IPEndPoint.Parse("203.0.113.3:1"))))
            .ErrorCode.ShouldBe(StunErrorCode.InsufficientCapacity);
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4001, IPEndPoint.Parse("203.0.113.3:1"))))
            .ErrorCode.ShouldBe(StunErrorCode.InsufficientCapacity);
        _core.Counters.PermissionRefusals.ShouldBe(2);
    }

    [Fact]
    public void TheDefaultsLimitAllocationsPermissionsAndBandwidth()
    {
        TurnOptions defaults = TurnOptions.Default;
        defaults.UserQuota.ShouldBeGreaterThan(0);
        defaults.AllocationsPerAddress.ShouldBeGreaterThan(0);
        defaults.TotalQuota.ShouldBeGreaterThan(0);
        defaults.MaxPermissionsPerAllocation.ShouldBeGreaterThan(0);
        defaults.MaxBytesPerSecond.ShouldBeGreaterThan(0);
        defaults.MaxBytesPerSecondPerUser.ShouldBeGreaterThan(defaults.MaxBytesPerSecond);
        defaults.MaxBytesPerSecondPerAddress.ShouldBeGreaterThan(defaults.MaxBytesPerSecondPerUser);
    }

    [Fact]
    public void UserQuotaGives486()
    {
        TurnTestClient first = Setup(new TurnOptions { Users = new Dictionary<string, string> { ["alice"] = "wonderland", ["bob"] = "builder" }, UserQuota = 1 });
        first.Allocate().IsSuccess.ShouldBeTrue();
        TurnTestClient second = NewClient("192.0.2.40:1");
        second.Allocate().ErrorCode.ShouldBe(StunErrorCode.AllocationQuotaReached);
        TurnTestClient bob = NewClient("192.0.2.40:2", user: "bob", password: "builder");
        bob.Allocate().IsSuccess.ShouldBeTrue();
        first.Parse(first.Request(StunMethod.Refresh, TurnTestClient.Lifetime(0))).IsSuccess.ShouldBeTrue();
        second.Parse(second.Request(StunMethod.Allocate, TurnTestClient.RequestedUdp)).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public void OutOfPortsGives508()
    {
        TurnTestClient first = Setup(new TurnOptions { Users = new Dictionary<string, string> { ["alice"] = "wonderland" }, MinPort = 50000, MaxPort = 50001 });
        first.Allocate().IsSuccess.ShouldBeTrue();
        NewClient("192.0.2.50:1").Allocate().IsSuccess.ShouldBeTrue();
        TurnTestClient third = NewClient("192.0.2.50:2");
        third.Allocate().ErrorCode.ShouldBe(StunErrorCode.InsufficientCapacity);
    }

    [Fact]
    public void EvenPortWithReservationAndTheTokenAllocatesTheNextPort()
    {
        TurnTestClient rtp = Setup();
        TurnTestClient.Response first = rtp.Allocate((ref StunMessageBuilder b) => b.AddBytes(StunAttributeType.EvenPort, [0x80]));
        first.IsSuccess.ShouldBeTrue();
        (first.Relayed!.Port % 2).ShouldBe(0);
        first.ReservationToken.ShouldNotBeNull();
        ulong token = first.ReservationToken.Value;

        TurnTestClient rtcp = NewClient("192.0.2.10:40001");
        TurnTestClient.Response second = rtcp.Allocate((ref StunMessageBuilder b) => b.AddUInt64(StunAttributeType.ReservationToken, token));
        second.IsSuccess.ShouldBeTrue();
        second.Relayed!.Port.ShouldBe(first.Relayed.Port + 1);

        TurnTestClient again = NewClient("192.0.2.10:40002");
        again.Allocate((ref StunMessageBuilder b) => b.AddUInt64(StunAttributeType.ReservationToken, token))
            .ErrorCode.ShouldBe(StunErrorCode.InsufficientCapacity);
    }

    [Fact]
    public void UnusedReservationExpires()
    {
        TurnTestClient rtp = Setup();
        TurnTestClient.Response first = rtp.Allocate((ref StunMessageBuilder b) => b.AddBytes(StunAttributeType.EvenPort, [0x80]));
        _environment.Relays.Count.ShouldBe(2);
        _core.Expire(rtp.Now + TimeSpan.FromSeconds(31));
        _environment.Relays[1].Disposed.ShouldBeTrue();
        TurnTestClient rtcp = NewClient("192.0.2.10:40001");
        rtcp.Now += TimeSpan.FromSeconds(31);
        rtcp.Allocate((ref StunMessageBuilder b) => b.AddUInt64(StunAttributeType.ReservationToken, first.ReservationToken!.Value))
            .ErrorCode.ShouldBe(StunErrorCode.InsufficientCapacity);
    }

    [Fact]
    public void DontFragmentIsHonoured()
    {
        TurnTestClient client = Setup();
        client.Allocate((ref StunMessageBuilder b) => b.AddEmpty(StunAttributeType.DontFragment)).IsSuccess.ShouldBeTrue();
        _environment.Relays[0].DontFragment.ShouldBeTrue();
    }

    [Fact]
    public void BandwidthCapDropsTheExcess()
    {
        TurnTestClient client = Setup(new TurnOptions { Users = new Dictionary<string, string> { ["alice"] = "wonderland" }, MaxBytesPerSecond = 1000 });
        client.Allocate().IsSuccess.ShouldBeTrue();
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, PublicPeer))).IsSuccess.ShouldBeTrue();
        FakeTurnEnvironment.FakeRelay relay = _environment.Relays[0];
        client.ChannelData(0x4000, new byte[600]);
        client.ChannelData(0x4000, new byte[600]);
        relay.Sent.Count.ShouldBe(1);
        client.Now += TimeSpan.FromSeconds(1);
        client.ChannelData(0x4000, new byte[600]);
        relay.Sent.Count.ShouldBe(2);
    }

    [Fact]
    public void UserBandwidthIsSharedByAllOfTheUsersAllocations()
    {
        var users = new Dictionary<string, string> { ["alice"] = "wonderland", ["bob"] = "builder" };
        TurnTestClient first = Setup(new TurnOptions { Users = users, MaxBytesPerSecond = 0, MaxBytesPerSecondPerUser = 1000, MaxBytesPerSecondPerAddress = 0 });
        TurnTestClient second = NewClient("192.0.2.41:1");
        TurnTestClient bob = NewClient("192.0.2.42:1", user: "bob", password: "builder");
        foreach (TurnTestClient client in new[] { first, second, bob })
        {
            BindChannel(client);
        }

        first.ChannelData(0x4000, new byte[600]);
        second.ChannelData(0x4000, new byte[600]);
        bob.ChannelData(0x4000, new byte[600]);
        _environment.Relays.Select(r => r.Sent.Count).ShouldBe([1, 0, 1]);
        _core.Counters.BandwidthDrops.ShouldBe(1);
        _core.Counters.Dropped.ShouldBe(0);

        second.Now += TimeSpan.FromSeconds(1);
        second.ChannelData(0x4000, new byte[600]);
        _environment.Relays[1].Sent.Count.ShouldBe(1);
    }

    [Fact]
    public void SourceBandwidthIsSharedByEveryUserAtThatAddress()
    {
        var users = new Dictionary<string, string> { ["alice"] = "wonderland", ["bob"] = "builder" };
        TurnTestClient alice = Setup(new TurnOptions { Users = users, MaxBytesPerSecond = 0, MaxBytesPerSecondPerUser = 0, MaxBytesPerSecondPerAddress = 1000 },
            clientAddress: "192.0.2.60:1");
        TurnTestClient bob = NewClient("192.0.2.60:2", user: "bob", password: "builder");
        TurnTestClient elsewhere = NewClient("192.0.2.61:1", user: "bob", password: "builder");
        foreach (TurnTestClient client in new[] { alice, bob, elsewhere })
        {
            BindChannel(client);
        }

        alice.ChannelData(0x4000, new byte[600]);
        bob.ChannelData(0x4000, new byte[600]);
        elsewhere.ChannelData(0x4000, new byte[600]);
        _environment.Relays.Select(r => r.Sent.Count).ShouldBe([1, 0, 1]);
        _core.Counters.BandwidthDrops.ShouldBe(1);
    }

    [Fact]
    public void DataFromThePeerCountsAgainstTheSameLimits()
    {
        TurnTestClient client = Setup(new TurnOptions
        {
            Users = new Dictionary<string, string> { ["alice"] = "wonderland" }, MaxBytesPerSecond = 0, MaxBytesPerSecondPerUser = 1000,
        });
        BindChannel(client);
        client.ChannelData(0x4000, new byte[600]);
        FakeTurnEnvironment.FakeRelay relay = _environment.Relays[0];
        int before = _environment.ToClients.Count;
        _core.HandleFromPeer(relay, PublicPeer, new byte[600], client.Now);
        _environment.ToClients.Count.ShouldBe(before);
        _core.Counters.BandwidthDrops.ShouldBe(1);
        _core.HandleFromPeer(relay, PublicPeer, new byte[300], client.Now);
        _environment.ToClients.Count.ShouldBe(before + 1);
    }

    private static void BindChannel(TurnTestClient client)
    {
        client.Allocate().IsSuccess.ShouldBeTrue();
        client.Parse(client.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, PublicPeer))).IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public void GarbageAndResponsesAreDroppedSilently()
    {
        TurnTestClient client = Setup();
        _core.HandleFromClient(client.Client, [0x00, 0x03, 0x00, 0x05, 1, 2, 3], client.Now);
        _core.HandleFromClient(client.Client, [0x40, 0x00, 0x00, 0x09, 1], client.Now);
        _environment.ToClients.ShouldBeEmpty();
        _core.Counters.Malformed.ShouldBe(1);
    }
}
