using System.Net;
using NatPunch.IntegrationTests.Netcheck;
using NatPunch.Server;
using NatPunch.Server.Rendezvous;
using NatPunch.Streams;
using NatPunch.Traversal;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// A peer that dies (killed: no reset on the stream, its rendezvous connection simply closes) and
/// does not come back: once the server says it left, the other side ends the session with that
/// reason as soon as the path fails, instead of waiting out the stream's 60 s peer timeout.
/// </summary>
public sealed class PeerConnectorPeerLeftTests : IAsyncLifetime
{
    private NatPunchServer _server = null!;

    public ValueTask InitializeAsync()
    {
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Rendezvous = RendezvousOptions.Default with { ResumeWindow = TimeSpan.FromSeconds(2) },
        });
        _server.Start();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task APeerThatLeftForGoodEndsTheSessionWithTheReason()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string server = _server.UdpEndPoints[0].ToString();
        using var bob = new LoggedNatpunchProcess("listen", "--server", server, "--id", "bob-leaves", "--relay", "never", "--json");
        await bob.WaitForLineAsync("\"registered\"", ct);
        var log = new ProgressLog();
        await using PeerConnection alice = await PeerConnector.ConnectAsync(new PeerOptions
        {
            Server = server,
            Name = "alice-stays",
            IncludeLoopbackCandidates = true,
            Timeout = TimeSpan.FromSeconds(15),
            Relay = RelayMode.Never,
            Ice = IceAgentOptions.Default with
            {
                ConsentInterval = TimeSpan.FromSeconds(1),
                ConsentTimeout = TimeSpan.FromSeconds(3),
                ConsentRetransmit = TimeSpan.FromMilliseconds(250),
            },
        }, "bob-leaves", log, ct);

        var endedEvent = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        alice.Ended += reason => endedEvent.TrySetResult(reason);
        bob.Stop();
        var ended = await Should.ThrowAsync<ReliableStreamResetException>(async () =>
        {
            byte[] piece = new byte[10_000];
            while (true)
            {
                await alice.Stream.WriteAsync(piece, ct);
                await alice.Stream.FlushAsync(ct);
                await Task.Delay(100, ct);
            }
        }).WaitAsync(TimeSpan.FromSeconds(20), ct);
        ended.Reason.ShouldStartWith("'bob-leaves' left the rendezvous", customMessage: log.ToString());
        log.Of<ConnectionProgress.PathLost>().ShouldContain(l => l.Reason.EndsWith("the session ends", StringComparison.Ordinal), log.ToString());
        (await endedEvent.Task.WaitAsync(TimeSpan.FromSeconds(5), ct)).ShouldStartWith("'bob-leaves' left the rendezvous");
    }
}
