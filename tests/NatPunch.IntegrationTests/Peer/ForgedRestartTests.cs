using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Server;
using NatPunch.Session;
using NatPunch.Traversal;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// The attack of the session-core issue: with the ids sniffed from the rendezvous, an attacker
/// forged a <c>restart</c> carrying its own ICE credentials and candidate, answered the checks, and
/// the peer moved its working session to the attacker's address. Here the restart is applied to
/// alice's link as the supervisor would apply it, and the attacker answers every ICE check: the
/// agent selects the attacker's pair, but the attacker cannot echo the sealed path challenge, so
/// the data never moves there, nothing of the session reaches it in the clear, and alice and bob go on.
/// </summary>
public sealed class ForgedRestartTests : LoopbackServerTests
{
    private new PeerOptions Options(string name) => base.Options(name) with { Relay = RelayMode.Never };

    [Fact]
    public async Task AForgedRestartThatWinsTheChecksDoesNotMoveTheSession()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options("bob-restart"), null, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Options("alice-restart"), "bob-restart", null, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);
        IPEndPoint bobPath = alice.Link.DataRemote!;

        // The attacker: a socket of its own with an ICE agent that answers alice's checks.
        var attackerSocket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        attackerSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var attackerAt = (IPEndPoint)attackerSocket.LocalEndPoint!;
        var aliceAt = new IPEndPoint(IPAddress.Loopback, alice.Link.LocalEndPoint.Port);
        IceCredentials forged = IceCredentials.NewRandom(), aliceRestart = IceCredentials.NewRandom();
        IceAgentOptions ice = IceAgentOptions.Default;
        await using var attacker = new PeerLink(attackerSocket, now => new IceAgent(IceRole.Controlled, forged, [attackerAt], [], ice, now));
        await attacker.InvokeAsync((agent, now) =>
        {
            agent.SetRemoteCredentials(aliceRestart);
            agent.AddRemoteCandidates([new Candidate(CandidateType.Host, aliceAt, 2130706431, "alice")], now);
            agent.StartChecks(now);
        });
        // The forged restart, applied as the supervisor applies a real one.
        await alice.Link.RestartAgentAsync(now => new IceAgent(IceRole.Controlling, aliceRestart, [aliceAt], [], ice, now));
        await alice.Link.InvokeAsync((agent, now) =>
        {
            agent.SetRemoteCredentials(forged);
            agent.AddRemoteCandidates([new Candidate(CandidateType.Host, attackerAt, 2130706431, "attacker")], now);
            agent.StartChecks(now);
        });

        // The checks succeed and the attacker's pair is selected by the agent...
        await WaitUntilAsync(() => alice.Link.InvokeAsync((agent, _) => agent.SelectedPair?.Remote.EndPoint.Equals(attackerAt) == true), ct);
        // ...but the path challenges the attacker gets stay unanswered: data keeps going to bob.
        await Task.Delay(1000, ct);
        attacker.StrayDatagrams.ShouldBeGreaterThan(0, "the attacker received no sealed path challenge");
        alice.Link.DataRemote.ShouldBe(bobPath);
        alice.Path.Remote.Port.ShouldBe(bobPath.Port);

        await TransferToBobAsync(alice, bob, 300_000, ct);
        alice.Link.DataRemote.ShouldBe(bobPath);
    }

    [Fact]
    public async Task ARestartOrCandidateTheRendezvousForgesIsRefusedAndTheSessionGoesOn()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var aliceProgress = new List<ConnectionProgress>();
        // A short handshake timeout: plain candidates are welcome for that long after the handshake.
        PeerOptions Short(string name) => Options(name) with { Handshake = Security.SessionHandshakeOptions.Default with { Timeout = TimeSpan.FromSeconds(2) } };
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Short("bob-forged"), null, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Short("alice-forged"), "bob-forged",
            new SynchronousProgress(p => { lock (aliceProgress) aliceProgress.Add(p); }), ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);
        await Task.Delay(TimeSpan.FromSeconds(2.5), ct);
        IPEndPoint bobPath = alice.Link.DataRemote!;

        // What a server that lies would deliver: plain session messages in bob's name, with the real session id.
        var attacker = new IPEndPoint(IPAddress.Loopback, 9);
        var forgedOffer = new PeerOffer("evilufrg", "evilpasswordevilpassword", [new CandidateInfo("host", attacker.ToString(), 2130706431, "x")]);
        await bob.Rendezvous.SendSessionMessageAsync(new RestartMessage(alice.Session, forgedOffer, 50), ct);
        await bob.Rendezvous.SendSessionMessageAsync(new CandidateMessage(alice.Session, forgedOffer.Candidates[0]), ct);
        await bob.Rendezvous.SendSessionMessageAsync(new SealedSignalMessage(alice.Session, "AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ct);

        await WaitUntilAsync(() => Task.FromResult(alice.RefusedSignals >= 3), ct);
        await Task.Delay(500, ct);
        lock (aliceProgress)
        {
            aliceProgress.OfType<ConnectionProgress.PathLost>().ShouldBeEmpty("a forged restart made alice re-establish the path");
        }
        alice.Link.DataRemote.ShouldBe(bobPath);
        (await alice.Link.InvokeAsync((agent, _) => agent.Pairs.Any(p => p.Remote.EndPoint.Port == attacker.Port))).ShouldBeFalse("the forged candidate was probed");

        await TransferToBobAsync(alice, bob, 100_000, ct);
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, too late for an assertion).</summary>
    private sealed class SynchronousProgress(Action<ConnectionProgress> report) : IProgress<ConnectionProgress>
    {
        public void Report(ConnectionProgress value) => report(value);
    }

    /// <summary>Alice sends <paramref name="size"/> random bytes and ends; bob ends at once: bob gets them intact, alice nothing.</summary>
    private static async Task TransferToBobAsync(PeerConnection alice, PeerConnection bob, int size, CancellationToken ct)
    {
        byte[] toBob = RandomNumberGenerator.GetBytes(size);
        Task<byte[]> bobReads = SlowTransfer.ReadAllAsync(bob, ct);
        Task<byte[]> aliceReads = SlowTransfer.ReadAllAsync(alice, ct);
        await alice.Stream.WriteAsync(toBob, ct);
        await Task.WhenAll(alice.Stream.CompleteWritesAsync(ct), bob.Stream.CompleteWritesAsync(ct)).WaitAsync(TimeSpan.FromSeconds(30), ct);
        SHA256.HashData(await bobReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toBob));
        (await aliceReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBeEmpty();
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await condition())
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, "the forged pair was never selected");
            await Task.Delay(50, ct);
        }
    }
}
