using NatPunch.Testing;
using System.Net;
using System.Security.Cryptography;
using NatPunch.Relay;
using NatPunch.Server;
using NatPunch.Server.Turn;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// Listen and connect through our server's TURN relay on loopback (<c>--relay only</c>, <c>--turn</c>
/// with long-term credentials), over UDP and TCP to the relay, and the failures a user can meet.
/// </summary>
public sealed class PeerConnectorRelayLoopbackTests : IAsyncLifetime
{
    private NatPunchServer _server = null!;
    // Its TCP port speaks TLS too: turns: to it is TURN over TLS.
    private readonly TestCertificate _certificate = TestCertificate.Create("localhost", "127.0.0.1");

    public ValueTask InitializeAsync()
    {
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            TlsCertificateFile = _certificate.CertificatePath,
            TlsKeyFile = _certificate.KeyPath,
            Turn = new TurnOptions
            {
                Realm = "natpunch.test",
                Users = new Dictionary<string, string> { ["relay-user"] = "relay-pass" },
                AllowLoopbackPeers = true,
            },
        });
        _server.Start();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificate.Dispose();
    }

    private PeerOptions Options(string name, RelayMode relay, string transport = "udp", string password = "relay-pass") => new()
    {
        Server = _server.UdpEndPoints[0].ToString(),
        Name = name,
        IncludeLoopbackCandidates = true,
        Timeout = TimeSpan.FromSeconds(15),
        Relay = relay,
        TurnServer = TurnServerUri.TryParse($"turn:{_server.UdpEndPoints[0]}?transport={transport}", out TurnServerUri uri, out _) ? uri : null,
        TurnCredentials = new TurnCredentials("relay-user", password),
    };

    [Theory]
    [InlineData("udp")]
    [InlineData("tcp")]
    public async Task RelayOnlyCarriesTheStreamIntactBothWays(string transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var progress = new List<ConnectionProgress>();
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options($"bob-{transport}", RelayMode.Only, transport), null, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Options($"alice-{transport}", RelayMode.Only, transport), $"bob-{transport}",
            new Progress<ConnectionProgress>(p => { lock (progress) progress.Add(p); }), ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);

        alice.Path.Direct.ShouldBeFalse();
        bob.Path.Direct.ShouldBeFalse();
        alice.Path.Transport.ShouldBe(transport);
        alice.Path.CandidateTypes.ShouldStartWith("relay/");

        byte[] toBob = RandomNumberGenerator.GetBytes(1_000_000);
        byte[] toAlice = RandomNumberGenerator.GetBytes(1_000_000);
        Task<byte[]> bobReads = ReadAllAsync(bob, ct);
        Task<byte[]> aliceReads = ReadAllAsync(alice, ct);
        await Task.WhenAll(WriteAllAsync(alice, toBob, ct), WriteAllAsync(bob, toAlice, ct)).WaitAsync(TimeSpan.FromSeconds(60), ct);
        SHA256.HashData(await bobReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toBob));
        SHA256.HashData(await aliceReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toAlice));
        lock (progress)
        {
            progress.OfType<ConnectionProgress.RelayReady>().ShouldHaveSingleItem().Transport.ShouldBe(transport);
        }
    }

    [Fact]
    public async Task RelayOnlyOverTurnsCarriesTheStreamIntact()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        TurnServerUri.TryParse($"turns:{_server.UdpEndPoints[0]}", out TurnServerUri turns, out string error).ShouldBeTrue(error);
        PeerOptions Turns(string name) => Options(name, RelayMode.Only) with
        {
            TurnServer = turns,
            ServerConnection = new NatPunch.Net.ServerConnectionOptions { PinnedCertificateSha256 = _certificate.Sha256 },
        };
        long handshakesBefore = _server.Counters.TlsHandshakes;
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Turns("bob-tls"), null, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Turns("alice-tls"), "bob-tls", null, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);

        alice.Path.Direct.ShouldBeFalse();
        alice.Path.Transport.ShouldBe("tcp");
        bob.Path.Transport.ShouldBe("tcp");
        byte[] toBob = RandomNumberGenerator.GetBytes(1_000_000);
        Task<byte[]> bobReads = ReadAllAsync(bob, ct);
        Task<byte[]> aliceReads = ReadAllAsync(alice, ct);
        await Task.WhenAll(WriteAllAsync(alice, toBob, ct), WriteAllAsync(bob, [], ct)).WaitAsync(TimeSpan.FromSeconds(60), ct);
        SHA256.HashData(await bobReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toBob));
        (await aliceReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBeEmpty();
        // Two rendezvous connections and two TURN connections, all over TLS.
        (_server.Counters.TlsHandshakes - handshakesBefore).ShouldBeGreaterThanOrEqualTo(4);
    }

    /// <summary>
    /// Consent checks (RFC 7675) share the bound channel with the data: their answers must reach the
    /// agent, or the relayed path is declared dead after the consent timeout (seen in the NAT lab:
    /// every relayed session lost its path after --dead-after). Here the timeout is 1.5 s and the
    /// session lasts 5 s.
    /// </summary>
    [Theory]
    [InlineData("udp")]
    [InlineData("tcp")]
    public async Task RelayedPathKeepsConsentLongerThanTheConsentTimeout(string transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var lost = new SynchronousProgress();
        PeerOptions Short(string name) => Options(name, RelayMode.Only, transport) with
        {
            Ice = IceAgentOptionsWithShortConsent,
        };
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Short($"bob-consent-{transport}"), lost, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Short($"alice-consent-{transport}"), $"bob-consent-{transport}", lost, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);
        alice.Path.Direct.ShouldBeFalse();

        // Data both ways now and then (the channel is bound, so everything goes as ChannelData), for 5 s.
        Task<byte[]> bobReads = ReadAllAsync(bob, ct);
        Task<byte[]> aliceReads = ReadAllAsync(alice, ct);
        for (int i = 0; i < 10; i++)
        {
            await alice.Stream.WriteAsync(new byte[1000], ct);
            await bob.Stream.WriteAsync(new byte[1000], ct);
            await Task.Delay(500, ct);
        }
        await Task.WhenAll(alice.Stream.CompleteWritesAsync(ct), bob.Stream.CompleteWritesAsync(ct)).WaitAsync(TimeSpan.FromSeconds(30), ct);
        (await bobReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).Length.ShouldBe(10_000);
        (await aliceReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).Length.ShouldBe(10_000);
        lost.PathLost.ShouldBeEmpty();
    }

    private static readonly NatPunch.Traversal.IceAgentOptions IceAgentOptionsWithShortConsent = NatPunch.Traversal.IceAgentOptions.Default with
    {
        ConsentInterval = TimeSpan.FromMilliseconds(300),
        ConsentTimeout = TimeSpan.FromMilliseconds(1500),
        ConsentRetransmit = TimeSpan.FromMilliseconds(100),
    };

    /// <summary>Collects PathLost reports as they happen (Progress&lt;T&gt; would post them later).</summary>
    private sealed class SynchronousProgress : IProgress<ConnectionProgress>
    {
        private readonly List<string> _lost = [];

        public IReadOnlyList<string> PathLost
        {
            get
            {
                lock (_lost)
                {
                    return [.. _lost];
                }
            }
        }

        public void Report(ConnectionProgress value)
        {
            if (value is ConnectionProgress.PathLost lost)
            {
                lock (_lost)
                {
                    _lost.Add(lost.Reason);
                }
            }
        }
    }

    [Fact]
    public async Task AutoPrefersTheDirectPathWhenBothWork()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task<PeerConnection> listening = PeerConnector.ListenAsync(Options("bob-auto", RelayMode.Auto), null, ct);
        await Task.Delay(300, ct);
        await using PeerConnection alice = await PeerConnector.ConnectAsync(Options("alice-auto", RelayMode.Auto), "bob-auto", null, ct);
        await using PeerConnection bob = await listening.WaitAsync(TimeSpan.FromSeconds(15), ct);
        alice.Path.Direct.ShouldBeTrue();
        bob.Path.Direct.ShouldBeTrue();
    }

    [Fact]
    public async Task AWrongTurnPasswordWithRelayOnlyFailsSayingSo()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        _ = PeerConnector.ListenAsync(Options("bob-bad", RelayMode.Only), null, ct);
        await Task.Delay(300, ct);
        var error = await Should.ThrowAsync<ConnectException>(() =>
            PeerConnector.ConnectAsync(Options("alice-bad", RelayMode.Only, password: "wrong"), "bob-bad", null, ct));
        error.Message.ShouldContain("refused the credentials");
    }

    private static async Task WriteAllAsync(PeerConnection connection, byte[] data, CancellationToken ct)
    {
        await connection.Stream.WriteAsync(data, ct);
        await connection.Stream.CompleteWritesAsync(ct);
    }

    private static async Task<byte[]> ReadAllAsync(PeerConnection connection, CancellationToken ct)
    {
        using var all = new MemoryStream();
        await connection.Stream.CopyToAsync(all, ct);
        return all.ToArray();
    }
}
