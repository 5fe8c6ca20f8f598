using System.Net;
using System.Security.Cryptography;
using NatPunch.Relay;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Traversal;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// Two peers with <c>--relay only</c> on loopback, mid-transfer, when the TURN server restarts on the
/// same port: both lose their relay, allocate a new one, exchange the new relayed candidates through
/// the rendezvous and finish the transfer intact. The rendezvous is a second server that stays up:
/// a restarted NatPunch server forgets its rendezvous sessions, so through one server alone the peers
/// could not tell each other their new relayed addresses.
/// </summary>
public sealed class PeerConnectorRelayRestartTests : IAsyncLifetime
{
    private NatPunchServer _rendezvous = null!;
    private NatPunchServer _turn = null!;

    public ValueTask InitializeAsync()
    {
        _rendezvous = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Turn = new TurnOptions { Enabled = false },
        });
        _rendezvous.Start();
        _turn = LoopbackTurnServer.Start(0);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _turn.DisposeAsync();
        await _rendezvous.DisposeAsync();
    }

    private PeerOptions Options(string name, string transport) => new()
    {
        Server = _rendezvous.UdpEndPoints[0].ToString(),
        Name = name,
        IncludeLoopbackCandidates = true,
        Timeout = TimeSpan.FromSeconds(15),
        Relay = RelayMode.Only,
        TurnServer = TurnServerUri.TryParse($"turn:{_turn.UdpEndPoints[0]}?transport={transport}", out TurnServerUri uri, out _) ? uri : null,
        TurnCredentials = LoopbackTurnServer.Credentials,
        // A dead relayed path is noticed after 3 s rather than 15 (over UDP nothing else tells).
        Ice = IceAgentOptions.Default with
        {
            ConsentInterval = TimeSpan.FromSeconds(1),
            ConsentTimeout = TimeSpan.FromSeconds(3),
            ConsentRetransmit = TimeSpan.FromMilliseconds(250),
        },
    };

    [Theory]
    [InlineData("udp")]
    [InlineData("tcp")]
    public async Task ATurnServerRestartMidTransferIsSurvivedWithANewRelay(string transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var aliceProgress = new ProgressLog();
        var bobProgress = new ProgressLog();
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options($"bob-restart-{transport}", transport), bobProgress, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Options($"alice-restart-{transport}", transport), $"bob-restart-{transport}", aliceProgress, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);
        alice.Path.Direct.ShouldBeFalse();

        await SlowTransfer.BothWaysAcrossAsync(alice, bob, async () =>
        {
            int port = _turn.UdpEndPoints[0].Port;
            await _turn.DisposeAsync();
            _turn = LoopbackTurnServer.Start(port);
        }, ct);
        foreach (ProgressLog log in new[] { aliceProgress, bobProgress })
        {
            log.Of<ConnectionProgress.RelayReady>().Count.ShouldBe(2, log.ToString());
            log.Of<ConnectionProgress.RelayReady>().ShouldAllBe(r => r.Transport == transport);
            log.Of<ConnectionProgress.RelayUnavailable>().ShouldHaveSingleItem(log.ToString()).Reason.ShouldStartWith("the relay was lost: ");
        }
        alice.Path.Direct.ShouldBeFalse();
        _turn.Turn!.Snapshot().Allocations.ShouldBeGreaterThanOrEqualTo(2);
    }
}
