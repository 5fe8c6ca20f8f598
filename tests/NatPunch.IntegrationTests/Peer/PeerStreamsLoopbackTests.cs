using System.Security.Cryptography;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Streams;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>Many streams, datagrams and pings over one real session through the server on loopback, direct and relayed.</summary>
public sealed class PeerStreamsLoopbackTests : LoopbackServerTests
{
    /// <summary>The server's own relay may relay between loopback addresses (for the relayed case).</summary>
    protected override NatPunchServerOptions ServerOptions => base.ServerOptions with { Turn = TurnOptions.Default with { AllowLoopbackPeers = true } };

    [Theory]
    [InlineData(RelayMode.Auto, true)]
    [InlineData(RelayMode.Only, false)]
    public async Task StreamsOpenedByBothSidesDatagramsAndPingsShareOneSession(RelayMode relay, bool direct)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using PeerNode bobNode = await PeerNode.ListenAsync(Options("bob-s") with { Relay = relay }, null, ct);
        await using PeerNode aliceNode = await PeerNode.StartAsync(Options("alice-s") with { Relay = relay }, null, ct);
        await using PeerConnection alice = await aliceNode.ConnectAsync("bob-s", ct);
        await using PeerConnection bob = await bobNode.AcceptAsync(ct).WaitAsync(TimeSpan.FromSeconds(15), ct);
        alice.Path.Direct.ShouldBe(direct);

        const int PerSide = 50;
        Task opened = Task.WhenAll(OpenAndSend(alice, PerSide, ct), OpenAndSend(bob, PerSide, ct));
        Task served = Task.WhenAll(AcceptAndEcho(bob, PerSide, ct), AcceptAndEcho(alice, PerSide, ct));
        await Task.WhenAll(opened, served).WaitAsync(TimeSpan.FromSeconds(90), ct);

        TimeSpan rtt = await alice.PingAsync(ct).WaitAsync(TimeSpan.FromSeconds(5), ct);
        rtt.ShouldBeGreaterThan(TimeSpan.Zero);
        (await bob.PingAsync(ct).WaitAsync(TimeSpan.FromSeconds(5), ct)).ShouldBeGreaterThan(TimeSpan.Zero);

        alice.MaxDatagramSize.ShouldBeInRange(1100, 1280);
        var received = new HashSet<int>();
        Task reading = Task.Run(async () =>
        {
            while (received.Count < 100)
            {
                byte[] datagram = await bob.ReceiveDatagramAsync(ct);
                datagram.Length.ShouldBe(alice.MaxDatagramSize);
                received.Add(BitConverter.ToInt32(datagram));
            }
        }, ct);
        for (int i = 0; i < 100 && !reading.IsCompleted; i++)
        {
            byte[] datagram = new byte[alice.MaxDatagramSize];
            BitConverter.TryWriteBytes(datagram, i);
            alice.SendDatagram(datagram);
            await Task.Delay(2, ct);
        }
        // Loopback may drop a few: what arrives is enough, and whole.
        await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(3), ct));
        received.Count.ShouldBeGreaterThan(50);
        Should.Throw<DatagramTooLargeException>(() => alice.SendDatagram(new byte[alice.MaxDatagramSize + 1]));
    }

    /// <summary>Opens <paramref name="count"/> streams, sends each 64 KB and expects the same back (the peer echoes).</summary>
    private static async Task OpenAndSend(PeerConnection connection, int count, CancellationToken ct)
    {
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await using ReliableStream stream = await connection.OpenStreamAsync(ct);
            byte[] data = RandomNumberGenerator.GetBytes(64 * 1024);
            Task write = Task.Run(async () =>
            {
                await stream.WriteAsync(data, ct);
                await stream.CompleteWritesAsync(ct);
            }, ct);
            var echoed = new MemoryStream();
            await stream.CopyToAsync(echoed, ct);
            await write;
            SHA256.HashData(echoed.ToArray()).ShouldBe(SHA256.HashData(data));
        }));
    }

    private static async Task AcceptAndEcho(PeerConnection connection, int count, CancellationToken ct)
    {
        var echoes = new List<Task>();
        for (int i = 0; i < count; i++)
        {
            ReliableStream stream = await connection.AcceptStreamAsync(ct);
            echoes.Add(Task.Run(async () =>
            {
                await using (stream)
                {
                    await stream.CopyToAsync(stream, ct);
                    await stream.CompleteWritesAsync(ct);
                }
            }, ct));
        }
        await Task.WhenAll(echoes);
    }
}
