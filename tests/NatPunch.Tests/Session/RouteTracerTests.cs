using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Net;
using NatPunch.Session;
using NatPunch.Traversal;

namespace NatPunch.Tests.Session;

/// <summary>
/// The traceroute of clash avoidance on loopback (no router in between: the lab's clash kinds have
/// them, tests/NatPunch.LabTests/Peer/ClashingNatTests), and how its echoes are read.
/// </summary>
public sealed class RouteTracerTests
{
    [Fact]
    public async Task AnAddressThatAnswersAClosedPortIsReportedWithNoRouterBefore()
    {
        RouteToPeer route = await RouteTracer.TraceAsync(IPAddress.Loopback, TimeSpan.FromSeconds(2), openWith: null, CancellationToken.None);

        route.ShouldBe(new RouteToPeer(0, AnswersUnsolicited: true));
    }

    [Fact]
    public void TheRoutersBeforeTheFirstAnswerAreCounted()
    {
        var peer = IPAddress.Parse("198.51.100.38");
        var echoes = new RouteEchoes(peer);
        echoes.Add(2, Expired(peer, 2, "198.51.100.33"));
        echoes.Complete.ShouldBeFalse();
        echoes.Add(4, Answered(peer, 4));
        echoes.Add(5, Answered(peer, 5));
        echoes.Complete.ShouldBeFalse("hop 3 has not answered yet");
        echoes.OpeningTtl.ShouldBe(2, "an opening can go now: a TTL that a router answered, below the peer");
        echoes.Add(1, Expired(peer, 1, "10.8.0.1"));
        echoes.Add(3, Expired(peer, 3, "203.0.113.59"));

        echoes.Complete.ShouldBeTrue();
        echoes.Result.ShouldBe(new RouteToPeer(3, AnswersUnsolicited: true));
        echoes.OpeningTtl.ShouldBe(3);
    }

    [Fact]
    public void AQuietAddressLeavesTheRoutersThatAnsweredAndNoAnswer()
    {
        var peer = IPAddress.Parse("198.51.100.38");
        var echoes = new RouteEchoes(peer);
        echoes.Add(1, Expired(peer, 1, "10.8.0.1"));
        echoes.Add(2, Expired(peer, 2, "198.51.100.33"));
        echoes.Add(99, Expired(peer, 99, "203.0.113.1")); // not a TTL we sent

        echoes.Complete.ShouldBeFalse();
        echoes.Result.ShouldBe(new RouteToPeer(2, AnswersUnsolicited: false));
        echoes.OpeningTtl.ShouldBeNull("not before the trace ends: the address may answer yet");
    }

    [Fact]
    public void NoWayThereEndsTheTrace()
    {
        var peer = IPAddress.Parse("198.51.100.38");
        var echoes = new RouteEchoes(peer);
        echoes.Add(2, new QueuedIcmpError(new IPEndPoint(peer, RouteTracer.FirstPort + 2), QueuedIcmpError.DestinationUnreachable, 0, IPAddress.Parse("198.51.100.33")));

        echoes.Complete.ShouldBeTrue();
        echoes.Result.ShouldBe(RouteToPeer.Unknown);
    }

    [Fact]
    public void ADatagramWithItsOwnTimeToLiveLeavesADualStackSocket()
    {
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        receiver.ReceiveTimeout = 2000;
        using var sender = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        sender.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        var to = new IPEndPoint(IPAddress.Loopback.MapToIPv6(), ((IPEndPoint)receiver.LocalEndPoint!).Port);

        LinuxTtlSender.Send(sender, to, "opening"u8, ttl: 3).ShouldBe(SocketError.Success);

        byte[] buffer = new byte[64];
        receiver.Receive(buffer).ShouldBe(7);
        sender.Ttl.ShouldBe((short)64, "the socket's own TTL is left alone");
    }

    private static QueuedIcmpError Expired(IPAddress peer, int ttl, string router) =>
        new(new IPEndPoint(peer, RouteTracer.FirstPort + ttl), QueuedIcmpError.TimeExceeded, 0, IPAddress.Parse(router));

    private static QueuedIcmpError Answered(IPAddress peer, int ttl) =>
        new(new IPEndPoint(peer, RouteTracer.FirstPort + ttl), QueuedIcmpError.DestinationUnreachable, QueuedIcmpError.PortUnreachable, peer);
}
