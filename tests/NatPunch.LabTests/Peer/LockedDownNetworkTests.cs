using System.Globalization;
using System.Net;
using NatPunch.LabTests.Lab;
using NatPunch.Testing;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// Offices that let nothing out but TCP 443, or nothing but an HTTP proxy: the udpblock site locked
/// down further (<c>lab.sh lockdown udpblock 443|proxy</c>). The connector there is given the server
/// as a bare host, as a user would, and must find its way by itself: TCP 3478 is dropped (or refused
/// by the proxy), so it falls back to TLS on 443 and says so, registers over TLS, and relays over TURN
/// over that same TLS connection's route. 20 MB each way, compared by SHA-256; the connector's
/// <c>connected</c> event says <c>"path":"relay","transport":"tcp"</c>.
/// </summary>
[Collection(LabCollection.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LockedDownNetworkTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private static readonly Site Listener = new("port", 1), Connector = new("udpblock", 1);

    [Fact]
    public async Task OnlyTcp443OutAPairConnectsThroughTheRelayOverTls()
    {
        lab.Require();
        await using LabKnob lockdown = await LabKnob.LockdownAsync(lab, "udpblock", "443");
        TransferResult result = await RunAsync([]);
        LabReport.Write("locked-down", $"{result.Summary} (only TCP 443 out of the connector's network)");
    }

    [Fact]
    public async Task OnlyAnHttpProxyOutAPairConnectsThroughTheRelayViaTheProxy()
    {
        lab.Require();
        await using LabKnob lockdown = await LabKnob.LockdownAsync(lab, "udpblock", "proxy");
        // The office's proxy runs on its router, the only machine that reaches out; it allows CONNECT to 443 only (squid's default SSL_ports).
        string router = lab.Info["router_udpblock_ns"];
        var proxyEndPoint = new IPEndPoint(IPAddress.Parse(lab.Info["router_udpblock_lan_ip"]), 3128);
        await using SquidProxy proxy = await SquidProxy.StartAsync(proxyEndPoint, [LabFixture.OurTlsPort], ("office", "pass-word"), ["ip", "netns", "exec", router]);
        TransferResult result = await RunAsync(["--proxy", $"http://office:pass-word@{proxyEndPoint}"]);
        await Task.Delay(500); // squid logs a tunnel when it closes
        proxy.AccessLog.ShouldContain($"CONNECT {LabFixture.ServerIp1}:{LabFixture.OurTlsPort}", Case.Sensitive, proxy.AccessLog);
        LabReport.Write("locked-down", $"{result.Summary} (only an HTTP proxy out of the connector's network)");
    }

    private async Task<TransferResult> RunAsync(string[] connectorArguments) =>
        await Transfer.RunAsync(lab, files, Listener, Connector,
            new PipeRunOptions
            {
                WorkDirectory = files.Directory.FullName,
                TimeoutSeconds = 40,
                ConnectorServer = LabFixture.ServerIp1,
                ConnectorArguments = connectorArguments,
            },
            limit: TimeSpan.FromSeconds(150),
            connectorPaths: [ExpectedPath.Relay(lab, Listener, "tcp")],
            listenerPaths: [ExpectedPath.Relay(lab, Connector, "udp")],
            during: run =>
            {
                // Checked once both are connected, while the processes are still there to describe.
                PeerProcess connector = run.Connector!;
                string log = run.Diagnostics();
                connector.EventsNamed("status").ShouldContain(e => (e.String("message") ?? "").Contains($"trying TLS on port {LabFixture.OurTlsPort}"), log);
                PeerEvent relay = connector.EventsNamed("relay").ShouldHaveSingleItem(log);
                relay.String("transport").ShouldBe("tcp", log);
                return Task.CompletedTask;
            });
}
