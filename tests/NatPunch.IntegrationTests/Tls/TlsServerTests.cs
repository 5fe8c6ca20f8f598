using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using NatPunch.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Rendezvous;
using NatPunch.Server;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Tls;

/// <summary>
/// The server with a certificate: TLS and plain TCP on every TCP port and on --tls-listen, told
/// apart by the first byte; the rendezvous client's choice of TLS, plain TCP or port 443, and its errors.
/// </summary>
public sealed class TlsServerTests : IAsyncLifetime
{
    private readonly TestCertificate _certificate = TestCertificate.Create("localhost", "127.0.0.1");
    private readonly List<RendezvousClient> _clients = [];
    private readonly List<NatPunchServer> _servers = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (RendezvousClient client in _clients)
        {
            await client.DisposeAsync();
        }
        foreach (NatPunchServer server in _servers)
        {
            await server.DisposeAsync();
        }
        _certificate.Dispose();
    }

    private NatPunchServer StartServer(bool tls, bool tlsListen = false)
    {
        var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            TlsCertificateFile = tls ? _certificate.CertificatePath : null,
            TlsKeyFile = tls ? _certificate.KeyPath : null,
            TlsListen = tlsListen ? [new IPEndPoint(IPAddress.Loopback, 0)] : [],
        });
        server.Start();
        _servers.Add(server);
        return server;
    }

    private RendezvousClient Client(string server, string name, byte[]? pin, List<string>? status = null)
    {
        var client = new RendezvousClient(new RendezvousClientOptions
        {
            Server = server,
            Name = name,
            Connection = new ServerConnectionOptions { PinnedCertificateSha256 = pin },
            ConnectTimeout = TimeSpan.FromSeconds(3),
        });
        if (status is not null)
        {
            client.StatusChanged += message => { lock (status) { status.Add(message); } };
        }
        _clients.Add(client);
        return client;
    }

    [Fact]
    public async Task TheRendezvousRunsOverTlsAndPlainTcpOnOnePort()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(tls: true);
        int port = server.UdpEndPoints[0].Port;

        RendezvousClient overTls = Client($"tls://127.0.0.1:{port}", "tls-peer", _certificate.Sha256);
        (await overTls.StartAsync(null, ct)).Name.ShouldBe("tls-peer");
        overTls.Route!.Tls.ShouldBeTrue();
        server.Counters.TlsHandshakes.ShouldBe(1);

        RendezvousClient plain = Client($"tcp://127.0.0.1:{port}", "plain-peer", null);
        await plain.StartAsync(null, ct);
        plain.Route!.Tls.ShouldBeFalse();
        server.Counters.TlsHandshakes.ShouldBe(1);

        // Both are in one directory: one introduces itself to the other across the two transports.
        var offer = new PeerOffer("u", "p", [new CandidateInfo("host", "127.0.0.1:5000", 1, "1")]);
        await overTls.DisposeAsync();
        RendezvousClient listener = Client($"tls://127.0.0.1:{port}", "tls-listener", _certificate.Sha256);
        await listener.StartAsync(offer, ct);
        Task<IntroduceMessage> introduced = listener.WaitForIntroductionAsync(ct);
        await plain.ConnectToPeerAsync("tls-listener", offer, TimeSpan.FromSeconds(5), ct);
        (await introduced.WaitAsync(TimeSpan.FromSeconds(5), ct)).Peer.ShouldBe("plain-peer");
    }

    [Fact]
    public async Task AClientGivenOnlyTheHostUsesTlsWhenTheServerOffersIt()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(tls: true);
        RendezvousClient client = Client(server.UdpEndPoints[0].ToString(), "auto", _certificate.Sha256);
        await client.StartAsync(null, ct);
        client.Route!.Tls.ShouldBeTrue();
        server.Counters.TlsHandshakes.ShouldBe(1);
    }

    [Fact]
    public async Task AServerWithoutTlsIsUsedInClearAndTheClientSaysSo()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(tls: false);
        var status = new List<string>();
        RendezvousClient client = Client(server.UdpEndPoints[0].ToString(), "clear", null, status);
        await client.StartAsync(null, ct);
        client.Route!.Tls.ShouldBeFalse();
        server.Counters.TlsNotOffered.ShouldBe(1);
        server.Counters.Malformed.ShouldBe(0);
        lock (status)
        {
            status.ShouldContain(s => s.Contains("offers no TLS"));
        }
    }

    [Fact]
    public async Task TlsOnlyToAServerWithoutTlsFailsAtOnceSayingSo()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(tls: false);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var error = await Should.ThrowAsync<RendezvousException>(() => Client($"tls://{server.UdpEndPoints[0]}", "x", null).StartAsync(null, ct));
        error.Message.ShouldContain("does not speak TLS");
        started.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(3)); // not retried until the connect timeout
    }

    [Fact]
    public async Task WithTlsRequiredACertificateThatDoesNotVerifyIsRefusedWithItsFingerprint()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(tls: true);
        var untrusted = await Should.ThrowAsync<RendezvousException>(() => Client($"tls://{server.UdpEndPoints[0]}", "a", pin: null).StartAsync(null, ct));
        untrusted.Message.ShouldContain("does not verify");
        untrusted.Message.ShouldContain(_certificate.Sha256Hex);
        untrusted.Message.ShouldContain("--server-cert-sha256");
        server.Rendezvous.Names.ShouldBe(0);

        // A pin is enforced in either mode: never waived, never a reason to fall back to clear text.
        byte[] wrongPin = new byte[32];
        foreach (string address in new[] { $"tls://{server.UdpEndPoints[0]}", server.UdpEndPoints[0].ToString() })
        {
            var pinned = await Should.ThrowAsync<RendezvousException>(() => Client(address, "b", wrongPin).StartAsync(null, ct));
            pinned.Message.ShouldContain("is not the pinned one");
        }
        server.Rendezvous.Names.ShouldBe(0);
    }

    [Fact]
    public async Task GivenOnlyTheHostAnUnverifiedCertificateStillEncryptsAndTheClientSaysItIsNotAuthenticated()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(tls: true);
        var status = new List<string>();
        RendezvousClient client = Client(server.UdpEndPoints[0].ToString(), "opportunistic", pin: null, status);
        await client.StartAsync(null, ct);
        client.Route!.Tls.ShouldBeTrue();
        server.Counters.TlsHandshakes.ShouldBe(1);
        lock (status)
        {
            status.ShouldContain(s => s.Contains("does not verify") && s.Contains("encrypted but the server is not authenticated"));
        }
    }

    [Fact]
    public async Task TlsListenServesTlsAndPlainAndARenewedCertificateIsUsedWithoutARestart()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(tls: true, tlsListen: true);
        IPEndPoint tlsPort = server.TlsEndPoints.ShouldHaveSingleItem();
        await Client($"tls://{tlsPort}", "first", _certificate.Sha256).StartAsync(null, ct);
        await Client($"tcp://{tlsPort}", "plain", null).StartAsync(null, ct);

        TestCertificate renewed = _certificate.Rewrite("localhost", "127.0.0.1");
        renewed.Sha256.ShouldNotBe(_certificate.Sha256);
        await Task.Delay(TimeSpan.FromSeconds(1.2), ct); // the files are looked at once a second
        await Client($"tls://{tlsPort}", "renewed", renewed.Sha256).StartAsync(null, ct);
        var old = await Should.ThrowAsync<RendezvousException>(() => Client($"tls://{tlsPort}", "old", _certificate.Sha256).StartAsync(null, ct));
        old.Message.ShouldContain("is not the pinned one");
    }

    [Fact]
    public async Task AMissingOrUnreadableCertificateIsAClearErrorAtStart()
    {
        string missing = Path.Combine(_certificate.Directory, "missing.pem");
        foreach ((string certificate, string key) in new[] { (missing, _certificate.KeyPath), (_certificate.CertificatePath, missing), (_certificate.KeyPath, _certificate.KeyPath) })
        {
            await using var server = new NatPunchServer(new NatPunchServerOptions
            {
                Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
                TlsCertificateFile = certificate,
                TlsKeyFile = key,
            });
            var error = Should.Throw<InvalidDataException>(server.Start);
            error.Message.ShouldStartWith($"cannot load the TLS certificate {certificate} with the key {key}");
        }
    }

    [Fact]
    public async Task StunBindingOverTlsIsAnsweredWhateverAlpnTheClientOffers()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        NatPunchServer server = StartServer(tls: true);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.UdpEndPoints[0], ct);
        await using var tls = new SslStream(new NetworkStream(socket), false, (_, _, _, _) => true);
        // A client that offers some ALPN protocol of its own is served all the same (no ALPN on the server).
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", ApplicationProtocols = [SslApplicationProtocol.Http2] }, ct);
        byte[] request = new byte[StunConstants.HeaderLength];
        var builder = new StunMessageBuilder(request, StunMessageType.BindingRequest, TransactionId.NewRandom());
        await tls.WriteAsync(request.AsMemory(0, builder.Length), ct);
        byte[] response = new byte[256];
        await tls.ReadExactlyAsync(response.AsMemory(0, StunConstants.HeaderLength), ct);
        int length = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(response.AsSpan(2));
        await tls.ReadExactlyAsync(response.AsMemory(StunConstants.HeaderLength, length), ct);
        int localPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
        Parse(response.AsSpan(0, StunConstants.HeaderLength + length)).ShouldBe((StunMessageType.BindingSuccess, localPort));

        static (StunMessageType, int) Parse(ReadOnlySpan<byte> bytes)
        {
            StunMessage.TryParse(bytes, out StunMessage message, out _).ShouldBeTrue();
            message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint mapped).ShouldBeTrue();
            return (message.Type, mapped.Port);
        }
    }
}
