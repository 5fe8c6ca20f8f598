using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Browser;

/// <summary>
/// Chromium's WebRTC (Debian's chromium, driven by Playwright) with a <c>turns:</c> URL to our server:
/// two peer connections in one page, relay candidates only, open a data channel through our relay
/// over TLS and carry a message. The selected local candidate must be relayed over TLS.
/// </summary>
public sealed class ChromiumTurnsTests : IAsyncLifetime
{
    private const string User = "browser";
    private const string Password = "webrtc-pass";

    // Two RTCPeerConnections in one page, relay only, signalled in memory.
    private const string Script = """
        async ({ url, username, credential }) => {
          const config = { iceServers: [{ urls: url, username, credential }], iceTransportPolicy: 'relay' };
          const a = new RTCPeerConnection(config), b = new RTCPeerConnection(config);
          a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate);
          b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate);
          const channel = a.createDataChannel('natpunch');
          const received = new Promise((resolve, reject) => {
            b.ondatachannel = e => { e.channel.onmessage = m => resolve(m.data); };
            setTimeout(() => reject(new Error(`no message within 20 s: ICE ${a.iceConnectionState}/${b.iceConnectionState}`)), 20000);
          });
          channel.onopen = () => channel.send('hello through turns');
          const offer = await a.createOffer();
          await a.setLocalDescription(offer);
          await b.setRemoteDescription(offer);
          const answer = await b.createAnswer();
          await b.setLocalDescription(answer);
          await a.setRemoteDescription(answer);
          const message = await received;
          const stats = await a.getStats();
          let local;
          stats.forEach(s => {
            if (s.type === 'transport' && s.selectedCandidatePairId) {
              local = stats.get(stats.get(s.selectedCandidatePairId).localCandidateId);
            }
          });
          a.close(); b.close();
          return JSON.stringify({ message, candidateType: local?.candidateType, relayProtocol: local?.relayProtocol });
        }
        """;

    private readonly TestCertificate _certificate = TestCertificate.Create("localhost", "127.0.0.1");
    private NatPunchServer _server = null!;

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
                Users = new Dictionary<string, string> { [User] = Password },
                AllowLoopbackPeers = true,
            },
        });
        _server.Start();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        _certificate.Dispose();
    }

    [Fact]
    public async Task ADataChannelRelaysThroughOurServerOverTurns()
    {
        Requires.Tool("chromium"); // Debian's; Playwright downloads no browser of its own here
        string chromium = Requires.FindOnPath("chromium")!;
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // No sandbox as root; no network of its own (this machine is closed); the test's certificate is self-signed.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--ignore-certificate-errors"],
        });
        IPage page = await browser.NewPageAsync();
        string url = $"turns:127.0.0.1:{_server.UdpEndPoints[0].Port}?transport=tcp";
        string json = await page.EvaluateAsync<string>(Script, new { url, username = User, credential = Password });

        using JsonDocument result = JsonDocument.Parse(json);
        JsonElement root = result.RootElement;
        root.GetProperty("message").GetString().ShouldBe("hello through turns", json);
        root.GetProperty("candidateType").GetString().ShouldBe("relay", json);
        root.GetProperty("relayProtocol").GetString().ShouldBe("tls", json);
        _server.Counters.TlsHandshakes.ShouldBeGreaterThanOrEqualTo(2, json);
        _server.Turn!.Statistics().AllocationsCreated.ShouldBeGreaterThanOrEqualTo(2, json);
    }
}
