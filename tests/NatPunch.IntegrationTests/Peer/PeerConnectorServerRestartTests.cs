using System.Security.Cryptography;
using NatPunch.IntegrationTests.Netcheck;
using NatPunch.Traversal;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// Two peers mid-transfer through ONE <c>natpunch server</c> process (rendezvous and TURN, a random TURN
/// secret as by default), which is killed and started again on the same port. Relayed peers lose their
/// relay and their grant: they register again, resume the session (so the server relays their new
/// relayed candidates), allocate with the fresh grant and finish the transfer intact. Peers on a direct
/// path do not notice beyond the rendezvous reconnecting.
/// </summary>
public sealed class PeerConnectorServerRestartTests : IDisposable
{
    private readonly int _port = LoggedNatpunchProcess.FreePort();
    private LoggedNatpunchProcess _server;

    public PeerConnectorServerRestartTests() => _server = StartServer();

    private LoggedNatpunchProcess StartServer()
    {
        // No --turn-secret: each run of the server has its own random secret, so old grants die with it.
        var server = new LoggedNatpunchProcess("server", "--listen", $"127.0.0.1:{_port}", "--allow-loopback-peers");
        server.WaitForLineAsync("Serving STUN on TCP", TestContext.Current.CancellationToken).GetAwaiter().GetResult();
        return server;
    }

    public void Dispose() => _server.Dispose();

    private PeerOptions Options(string name, RelayMode relay) => new()
    {
        Server = $"127.0.0.1:{_port}",
        Name = name,
        IncludeLoopbackCandidates = true,
        Timeout = TimeSpan.FromSeconds(15),
        Relay = relay,
        // A dead relayed path is noticed after 3 s rather than 15 (over UDP nothing else tells).
        Ice = IceAgentOptions.Default with
        {
            ConsentInterval = TimeSpan.FromSeconds(1),
            ConsentTimeout = TimeSpan.FromSeconds(3),
            ConsentRetransmit = TimeSpan.FromMilliseconds(250),
        },
    };

    [Fact]
    public async Task RelayOnlyPeersSurviveARestartOfTheirOneServer()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        (ProgressLog aliceLog, ProgressLog bobLog, PeerConnection alice, PeerConnection bob) = await ConnectAsync("relayed", RelayMode.Only, ct);
        await using (alice)
        await using (bob)
        {
            alice.Path.Direct.ShouldBeFalse();
            await TransferAcrossARestartAsync(alice, bob, ct);

            foreach (ProgressLog log in new[] { aliceLog, bobLog })
            {
                log.Of<ConnectionProgress.RelayReady>().Count.ShouldBe(2, log.ToString());
                log.Of<ConnectionProgress.RelayUnavailable>().ShouldHaveSingleItem(log.ToString()).Reason.ShouldStartWith("the relay was lost: ");
                log.Of<ConnectionProgress.Status>().ShouldContain(s => s.Message.StartsWith("registered again", StringComparison.Ordinal), log.ToString());
            }
            alice.Path.Direct.ShouldBeFalse();
        }
    }

    [Fact]
    public async Task DirectPeersAreNotDisturbedByARestartOfTheServer()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        (ProgressLog aliceLog, ProgressLog bobLog, PeerConnection alice, PeerConnection bob) = await ConnectAsync("direct", RelayMode.Auto, ct);
        await using (alice)
        await using (bob)
        {
            alice.Path.Direct.ShouldBeTrue();
            await TransferAcrossARestartAsync(alice, bob, ct);

            foreach (ProgressLog log in new[] { aliceLog, bobLog })
            {
                log.Of<ConnectionProgress.PathLost>().ShouldBeEmpty(log.ToString());
                log.Of<ConnectionProgress.Connected>().ShouldHaveSingleItem(log.ToString()).Path.Direct.ShouldBeTrue();
            }
            alice.Path.Direct.ShouldBeTrue();
            bob.Path.Direct.ShouldBeTrue();
        }
    }

    private async Task<(ProgressLog, ProgressLog, PeerConnection, PeerConnection)> ConnectAsync(string tag, RelayMode relay, CancellationToken ct)
    {
        var aliceLog = new ProgressLog();
        var bobLog = new ProgressLog();
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options($"bob-{tag}", relay), bobLog, ct);
        await Task.Delay(300, ct);
        PeerConnection alice = await PeerConnector.ConnectAsync(Options($"alice-{tag}", relay), $"bob-{tag}", aliceLog, ct);
        PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);
        return (aliceLog, bobLog, alice, bob);
    }

    /// <summary>~2 MB each way; halfway through the server is killed and started again on the same port.</summary>
    private Task TransferAcrossARestartAsync(PeerConnection alice, PeerConnection bob, CancellationToken ct)
    {
        string log = "";
        return SlowTransfer.BothWaysAcrossAsync(alice, bob, async () =>
        {
            _server.Stop();
            log = _server.Log;
            _server.Dispose();
            _server = await Task.Run(StartServer, ct);
        }, ct, () => log);
    }
}
