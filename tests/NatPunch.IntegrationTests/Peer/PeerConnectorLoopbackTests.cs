using System.Net;
using NatPunch.Server;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>Listen and connect through the real server on loopback: rendezvous, gathering, checks, selection.</summary>
public sealed class PeerConnectorLoopbackTests : LoopbackServerTests
{
    private new PeerOptions Options(string name) => base.Options(name) with { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task ListenerAndConnectorSelectADirectPathAndExchangeSegments()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var listenProgress = new List<ConnectionProgress>();
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options("bob"), new Progress<ConnectionProgress>(p => { lock (listenProgress) listenProgress.Add(p); }), ct);
        await Task.Delay(500, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Options("alice"), "bob", null, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(10), ct);
        alice.Path.Direct.ShouldBeTrue();
        alice.Path.Remote.Port.ShouldBe(bob.Link.LocalEndPoint.Port);
        bob.Path.Remote.Port.ShouldBe(alice.Link.LocalEndPoint.Port);
        alice.Session.ShouldBe(bob.Session);

        await using var sent = await alice.OpenStreamAsync(ct);
        await sent.WriteAsync("hello bob"u8.ToArray(), ct);
        await sent.CompleteWritesAsync(ct);
        await using var arrived = await bob.AcceptStreamAsync(ct).WaitAsync(TimeSpan.FromSeconds(5), ct);
        var received = new MemoryStream();
        await arrived.CopyToAsync(received, ct);
        received.ToArray().ShouldBe("hello bob"u8.ToArray());
        lock (listenProgress)
        {
            listenProgress.OfType<ConnectionProgress.Registered>().ShouldHaveSingleItem();
        }
    }

    [Fact]
    public async Task ConnectToAbsentPeerFailsWithinTheTimeout()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var error = await Should.ThrowAsync<ConnectException>(() =>
            PeerConnector.ConnectAsync(Options("carol") with { Timeout = TimeSpan.FromSeconds(1) }, "nobody", null, ct));
        error.Message.ShouldContain("nobody");
    }

    [Fact]
    public async Task TwoPeersConnectingToEachOtherAtOnceMeetInOneSession()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task<PeerConnection> alice = PeerConnector.ConnectAsync(Options("alice-m"), "bob-m", null, ct);
        Task<PeerConnection> bob = PeerConnector.ConnectAsync(Options("bob-m"), "alice-m", null, ct);
        await using PeerConnection a = await alice.WaitAsync(TimeSpan.FromSeconds(15), ct);
        await using PeerConnection b = await bob.WaitAsync(TimeSpan.FromSeconds(15), ct);
        a.Session.ShouldBe(b.Session);
        a.Path.Remote.Port.ShouldBe(b.Link.LocalEndPoint.Port);
    }
}
