using System.Net;
using System.Security.Cryptography;
using NatPunch.Security;
using NatPunch.Server;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// A node registers once and serves many peers: it accepts any number of them, connects to several
/// by name, and does both at once, each connection with its own path, keys and stream.
/// </summary>
public sealed class PeerNodeLoopbackTests : LoopbackServerTests
{
    private PeerOptions Options(string name, PeerIdentity? identity) => Options(name) with { Identity = identity };

    [Fact]
    public async Task AListeningNodeAcceptsSeveralPeersAtOnceEachWithItsOwnKeyAndStream()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using PeerNode bob = await PeerNode.ListenAsync(Options("bob-node"), null, ct);
        const int peers = 4;
        var identities = Enumerable.Range(0, peers).Select(_ => PeerIdentity.Generate()).ToArray();
        // All connect at once: the node offers afresh after each introduction, the others wait their turn at the server.
        Task<PeerConnection>[] connecting = Enumerable.Range(0, peers)
            .Select(i => PeerConnector.ConnectAsync(Options($"client-{i}", identities[i]) with { PeerKey = bob.Key }, "bob-node", null, ct))
            .ToArray();
        var accepted = new List<PeerConnection>();
        try
        {
            for (int i = 0; i < peers; i++)
            {
                accepted.Add(await bob.AcceptAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct));
            }
            PeerConnection[] clients = await Task.WhenAll(connecting).WaitAsync(TimeSpan.FromSeconds(30), ct);
            bob.ConnectionCount.ShouldBe(peers);
            accepted.Select(c => c.Session).Distinct().Count().ShouldBe(peers);
            accepted.Select(c => c.LocalEndPoint.Port).Distinct().Count().ShouldBe(peers);

            // Each client sends its own bytes; bob's side of each connection gets exactly that client's.
            await Task.WhenAll(clients.Select(async (client, i) =>
            {
                byte[] data = RandomNumberGenerator.GetBytes(100_000 + i);
                PeerConnection mine = accepted.Single(a => a.Session == client.Session);
                mine.Peer.ShouldBe($"client-{i}");
                mine.PeerKey.ShouldBe(identities[i].PublicKey);
                using var received = new MemoryStream();
                Task reading = mine.Stream.CopyToAsync(received, ct);
                await client.Stream.WriteAsync(data, ct);
                await client.Stream.CompleteWritesAsync(ct);
                await reading;
                SHA256.HashData(received.ToArray()).ShouldBe(SHA256.HashData(data));
            })).WaitAsync(TimeSpan.FromSeconds(60), ct);

            foreach (PeerConnection client in clients)
            {
                await client.DisposeAsync();
            }
        }
        finally
        {
            foreach (PeerConnection connection in accepted)
            {
                await connection.DisposeAsync();
            }
            foreach (PeerIdentity identity in identities)
            {
                identity.Dispose();
            }
        }
        bob.ConnectionCount.ShouldBe(0);
    }

    [Fact]
    public async Task ANodeConnectsToSeveralPeersByNameWhileItAcceptsOthers()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using PeerNode alice = await PeerNode.ListenAsync(Options("alice-node"), null, ct);
        Task<PeerConnection> carolListens = PeerConnector.ListenAsync(Options("carol-l"), null, ct);
        Task<PeerConnection> daveListens = PeerConnector.ListenAsync(Options("dave-l"), null, ct);
        // Meanwhile erin connects to alice: alice's own connects must not take the offer she listens with.
        Task<PeerConnection> erinConnects = PeerConnector.ConnectAsync(Options("erin-c"), "alice-node", null, ct);
        Task<PeerConnection> toCarol = alice.ConnectAsync("carol-l", ct);
        Task<PeerConnection> toDave = alice.ConnectAsync("dave-l", ct);

        await using PeerConnection aliceCarol = await toCarol.WaitAsync(TimeSpan.FromSeconds(30), ct);
        await using PeerConnection aliceDave = await toDave.WaitAsync(TimeSpan.FromSeconds(30), ct);
        await using PeerConnection aliceErin = await alice.AcceptAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
        await using PeerConnection carol = await carolListens.WaitAsync(TimeSpan.FromSeconds(30), ct);
        await using PeerConnection dave = await daveListens.WaitAsync(TimeSpan.FromSeconds(30), ct);
        await using PeerConnection erin = await erinConnects.WaitAsync(TimeSpan.FromSeconds(30), ct);

        aliceCarol.Peer.ShouldBe("carol-l");
        aliceDave.Peer.ShouldBe("dave-l");
        aliceErin.Peer.ShouldBe("erin-c");
        carol.PeerKey.ShouldBe(alice.Key);
        dave.PeerKey.ShouldBe(alice.Key);
        erin.PeerKey.ShouldBe(alice.Key);
        alice.ConnectionCount.ShouldBe(3);

        foreach ((PeerConnection ours, PeerConnection theirs) in new[] { (aliceCarol, carol), (aliceDave, dave), (aliceErin, erin) })
        {
            byte[] hello = System.Text.Encoding.UTF8.GetBytes($"hello {theirs.Peer} from {ours.Peer}");
            using var received = new MemoryStream();
            Task reading = theirs.Stream.CopyToAsync(received, ct);
            await ours.Stream.WriteAsync(hello, ct);
            await ours.Stream.CompleteWritesAsync(ct).WaitAsync(TimeSpan.FromSeconds(10), ct);
            await reading.WaitAsync(TimeSpan.FromSeconds(10), ct);
            received.ToArray().ShouldBe(hello);
        }
    }

    [Fact]
    public async Task ANodeStartedWithoutListeningCannotAcceptAndItsConnectToNobodyFailsClearly()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using PeerNode node = await PeerNode.StartAsync(Options("lonely") with { Timeout = TimeSpan.FromSeconds(1) }, null, ct);
        await Should.ThrowAsync<InvalidOperationException>(() => node.AcceptAsync(ct));
        var error = await Should.ThrowAsync<ConnectException>(() => node.ConnectAsync("nobody-here", ct));
        error.Message.ShouldContain("nobody-here");
        node.ConnectionCount.ShouldBe(0);
    }
}
