using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NatPunch.Relay;
using NatPunch.Server;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// What a hostile relay or an on-path party can do to a session now that every datagram is sealed:
/// flipped bits, truncation, replays and forged datagrams are each dropped and counted, the stream
/// arrives intact, and the session goes on.
/// </summary>
public sealed class SessionTamperingTests : IAsyncLifetime
{
    private NatPunchServer _server = null!;

    public ValueTask InitializeAsync()
    {
        _server = LoopbackTurnServer.Start(0);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private PeerOptions Options(string name, RelayMode relay, IPEndPoint turn) => new()
    {
        Server = _server.UdpEndPoints[0].ToString(),
        Name = name,
        IncludeLoopbackCandidates = true,
        Timeout = TimeSpan.FromSeconds(15),
        Relay = relay,
        TurnServer = TurnServerUri.TryParse($"turn:{turn}?transport=udp", out TurnServerUri uri, out _) ? uri : null,
        TurnCredentials = LoopbackTurnServer.Credentials,
    };

    [Fact]
    public async Task ARelayThatFlipsBitsTruncatesAndReplaysDeliversNothingFalseAndTheStreamArrivesIntact()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var proxy = new TamperingRelayProxy(_server.UdpEndPoints[0]);
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options("bob-tamper", RelayMode.Only, proxy.EndPoint), null, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Options("alice-tamper", RelayMode.Only, proxy.EndPoint), "bob-tamper", null, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);
        alice.Path.Direct.ShouldBeFalse();

        byte[] toBob = RandomNumberGenerator.GetBytes(2_000_000);
        byte[] toAlice = RandomNumberGenerator.GetBytes(1_000_000);
        Task<byte[]> bobReads = SlowTransfer.ReadAllAsync(bob, ct);
        Task<byte[]> aliceReads = SlowTransfer.ReadAllAsync(alice, ct);
        await Task.WhenAll(WriteAllAsync(alice, toBob, ct), WriteAllAsync(bob, toAlice, ct)).WaitAsync(TimeSpan.FromSeconds(90), ct);
        SHA256.HashData(await bobReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toBob));
        SHA256.HashData(await aliceReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toAlice));

        proxy.Flipped.ShouldBeGreaterThan(10);
        proxy.Truncated.ShouldBeGreaterThan(10);
        proxy.Replayed.ShouldBeGreaterThan(10);
        // Every tampered and replayed datagram that reached a peer was refused, none delivered.
        long refused = alice.Link.RefusedDatagrams + bob.Link.RefusedDatagrams;
        refused.ShouldBeGreaterThanOrEqualTo(proxy.Flipped + proxy.Truncated + proxy.Replayed,
            $"flipped {proxy.Flipped}, truncated {proxy.Truncated}, replayed {proxy.Replayed} (twice each), refused {refused}");
    }

    [Fact]
    public async Task ForgedDatagramsFromAStrangerDuringATransferAreRefusedAndChangeNothing()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options("bob-forge", RelayMode.Never, _server.UdpEndPoints[0]) with { TurnServer = null, TurnCredentials = null }, null, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(
            Options("alice-forge", RelayMode.Never, _server.UdpEndPoints[0]) with { TurnServer = null, TurnCredentials = null }, "bob-forge", null, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);
        alice.Path.Direct.ShouldBeTrue();

        using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var bobAt = new IPEndPoint(IPAddress.Loopback, bob.Link.LocalEndPoint.Port);
        byte[] toBob = RandomNumberGenerator.GetBytes(4_000_000);
        Task<byte[]> bobReads = SlowTransfer.ReadAllAsync(bob, ct);
        Task<byte[]> aliceReads = SlowTransfer.ReadAllAsync(alice, ct);
        Task writes = Task.WhenAll(WriteAllAsync(alice, toBob, ct), bob.Stream.CompleteWritesAsync(ct));
        int forged = 0;
        // At least 200, even if the transfer is over first: forgeries must change nothing after it either.
        while ((!writes.IsCompleted || forged < 200) && forged < 2000)
        {
            // Sealed-looking frames with counters ahead of the real ones, and handshake frames, some of
            // them shorter than any header: all forgeries.
            byte[] frame = RandomNumberGenerator.GetBytes(forged % 3 == 0 ? 1 + forged % 30 : 64 + forged % 1200);
            frame[0] = (byte)(forged % 5 == 0 ? 0xE2 : 0xE1);
            if (frame.Length > 1)
            {
                frame[1] = 0;
            }
            stranger.SendTo(frame, bobAt);
            forged++;
            if (forged % 50 == 0)
            {
                await Task.Delay(5, ct);
            }
        }
        await writes.WaitAsync(TimeSpan.FromSeconds(60), ct);
        SHA256.HashData(await bobReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toBob));
        (await aliceReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBeEmpty();
        forged.ShouldBeGreaterThanOrEqualTo(200);
        (bob.Link.RefusedDatagrams + bob.Link.StrayDatagrams).ShouldBeGreaterThanOrEqualTo(forged * 4 / 5 - 1);
    }

    private static async Task WriteAllAsync(PeerConnection connection, byte[] data, CancellationToken ct)
    {
        await connection.Stream.WriteAsync(data, ct);
        await connection.Stream.CompleteWritesAsync(ct);
    }
}
