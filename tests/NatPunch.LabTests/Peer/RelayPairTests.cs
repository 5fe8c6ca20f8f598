using System.Globalization;
using NatPunch.LabTests.Discovery;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// Pairs with no direct path meet through the server's TURN relay (symmetric ↔ port-restricted
/// with <c>--no-port-probing</c>, since probing finds them a direct path: PortProbingTests; pairs with a
/// UDP-blocked end with <c>--no-tcp-punch</c>, for the same reason: TcpPunchingTests), with no relay option at all
/// (the default <c>--relay auto</c>; the credentials come with the registration): 20 MB each way at
/// the same time, compared by SHA-256, clean and at 5 % loss. Every <c>connected</c> event must say
/// <c>"path":"relay"</c>, and <c>"transport":"tcp"</c> on a UDP-blocked end (its leg to the TURN
/// server is TCP), <c>"udp"</c> elsewhere (at 5 % loss either: when the UDP allocation goes unanswered
/// for a moment the TCP one may be granted first, and the first granted is kept); each end's
/// <c>relay</c> event names the transport of its allocation the same way.
/// <para>
/// The lab has one router per kind, and two hosts behind one router talk over their LAN (directly),
/// so each pair spans two different NATs: symmetric ↔ symmetric is sym1 ↔ cgnat1 with the cgnat site's
/// carrier NAT made symmetric (as NoDirectPathTests does, checked with netcheck); UDP-blocked ↔
/// UDP-blocked is udpblock1 ↔ port1 with all UDP dropped at the port router (<c>lab.sh block-udp port
/// on</c>): udpblock1 ↔ udpblock2 would connect directly over their LAN, where UDP is not blocked.
/// </para>
/// Also: a session that begins on the relay (UDP blocked at port1's router, so TURN over TCP) moves to
/// the direct path once UDP comes back, in the middle of a transfer, without losing a byte.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class RelayPairTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    /// <summary>Within this long after UDP is unblocked the session must be direct again (upgrade rounds every 5 s).</summary>
    private static readonly TimeSpan UpgradeWithin = TimeSpan.FromSeconds(15);

    /// <summary>Pair name → listener, connector.</summary>
    public static TheoryData<string> Pairs => ["sym-sym", "port-sym", "sym-port", "port-udpblock", "udpblock-udpblock"];

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task ConnectThroughTheRelayAndMove20MegabytesEachWay(string pair)
    {
        lab.Require();
        TransferResult result = await RunPairAsync(pair, lossPercent: 0);
        LabReport.Write("relay-clean", result.Summary);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task ConnectThroughTheRelayAndMove20MegabytesEachWayAtFivePercentLoss(string pair)
    {
        lab.Require();
        TransferResult result = await RunPairAsync(pair, lossPercent: 5);
        LabReport.Write("relay-loss5", result.Summary);
    }

    /// <summary>
    /// A relayed session lives longer than the consent timeout: 20 MB each way fed at 1 MB/s with
    /// <c>--dead-after 5</c>, so consent checks (RFC 7675) must be answered through the relay for 20 s,
    /// also once the data goes over a bound channel. No <c>path_lost</c>, one <c>connected</c> each.
    /// </summary>
    [Theory]
    [InlineData("sym-port")]
    [InlineData("port-udpblock")]
    public async Task RelayedSessionKeepsItsPathLongerThanDeadAfter(string pair)
    {
        lab.Require();
        TransferResult result = await RunPairAsync(pair, lossPercent: 0, bytesPerSecond: 1_000_000, deadAfterSeconds: 5);
        LabReport.Write("relay-long", result.Summary + " (fed at 1 MB/s, --dead-after 5)");
    }

    /// <summary>
    /// port1 (connector) with all UDP dropped at its router, so it reaches the relay over TCP, and
    /// open1 (listener); 20 MB each way fed at 1 MB/s. Once both report the relayed path, UDP is let
    /// through again: within <see cref="UpgradeWithin"/> both must report a second, direct path, and
    /// the transfer must end intact. After 2 s on the relay the upgrade usually comes from a STUN
    /// retransmission still under way; after 14 s only the agents' upgrade rounds (every 5 s) can find it.
    /// </summary>
    [Theory]
    [InlineData(2, 1_000_000)]
    [InlineData(14, 500_000)]
    public async Task SessionOnTheRelayMovesToTheDirectPathWhenUdpComesBack(int secondsOnRelay, long bytesPerSecond)
    {
        lab.Require();
        Site listener = new("open", 1), connector = new("port", 1);
        string timeline = "";
        TransferResult result;
        await using (LabKnob block = await LabKnob.BlockUdpAsync(lab, "port"))
        {
            result = await Transfer.RunAsync(lab, files, listener, connector,
                // Without TCP punching, which would find the direct TCP path at once (TcpPunchingTests moves from it to UDP).
                new PipeRunOptions
                {
                    WorkDirectory = files.Directory.FullName, BytesPerSecond = bytesPerSecond, TimeoutSeconds = 30,
                    ListenerArguments = ["--no-tcp-punch"], ConnectorArguments = ["--no-tcp-punch"],
                },
                limit: TimeSpan.FromSeconds(120),
                connectedEvents: 2,
                connectorPaths: [ExpectedPath.Relay(lab, listener, "tcp"), ExpectedPath.Direct(lab.PublicIp(listener.Kind))],
                listenerPaths: [ExpectedPath.Relay(lab, connector, "udp"), ExpectedPath.Direct(lab.PublicIp(connector.Kind))],
                during: async run =>
                {
                    PeerEvent relay = run.Connector!.EventsNamed("relay").ShouldHaveSingleItem($"connect: one relay event\n{run.Diagnostics()}");
                    relay.String("transport").ShouldBe("tcp", $"connect: UDP is blocked, so TURN over TCP\n{run.Diagnostics()}");
                    // Data flows through the relay for a while (20 MB fed at 1 or 0.5 MB/s: 20 or 40 s).
                    await Task.Delay(TimeSpan.FromSeconds(secondsOnRelay));
                    (run.Listener!.HasExited || run.Connector.HasExited).ShouldBeFalse($"a side ended before UDP came back\n{run.Diagnostics()}");
                    await block.UndoAsync();
                    TimeSpan unblocked = run.Clock.Elapsed;
                    PeerEvent? connectorDirect = await run.Connector.WaitForEventAsync("connected", UpgradeWithin + TimeSpan.FromSeconds(5), occurrence: 2);
                    PeerEvent? listenerDirect = await run.Listener.WaitForEventAsync("connected", UpgradeWithin + TimeSpan.FromSeconds(5) - (run.Clock.Elapsed - unblocked), occurrence: 2);
                    string why = run.Diagnostics();
                    connectorDirect.ShouldNotBeNull($"connect: no second connected event within {(UpgradeWithin + TimeSpan.FromSeconds(5)).TotalSeconds} s of UDP coming back\n{why}");
                    listenerDirect.ShouldNotBeNull($"listen: no second connected event within {(UpgradeWithin + TimeSpan.FromSeconds(5)).TotalSeconds} s of UDP coming back\n{why}");
                    TimeSpan connectorTook = connectorDirect.At - unblocked, listenerTook = listenerDirect.At - unblocked;
                    PeerEvent first = run.Connector.EventsNamed("connected")[0];
                    timeline = string.Create(CultureInfo.InvariantCulture,
                        $"relay over TCP at {first.At.TotalSeconds:0.0} s ({first.Long("elapsed_ms")} ms after the connector's start); UDP unblocked at {unblocked.TotalSeconds:0.0} s; "
                        + $"direct: connector {connectorTook.TotalSeconds:0.0} s, listener {listenerTook.TotalSeconds:0.0} s after unblocking");
                    connectorTook.ShouldBeLessThanOrEqualTo(UpgradeWithin, $"{timeline}\n{why}");
                    listenerTook.ShouldBeLessThanOrEqualTo(UpgradeWithin, $"{timeline}\n{why}");
                    (run.Listener.HasExited || run.Connector.HasExited).ShouldBeFalse($"the transfer ended before the upgrade (the inputs ran out too early?)\n{timeline}\n{why}");
                });
        }
        LabReport.Write("relay-upgrade", $"{result.Summary}\n    {secondsOnRelay} s on the relay; {timeline}");
    }

    private async Task<TransferResult> RunPairAsync(string pair, int lossPercent, long bytesPerSecond = 0, int? deadAfterSeconds = null)
    {
        var knobs = new List<LabKnob>();
        try
        {
            Site listener, connector;
            string listenerTransport = "udp", connectorTransport = "udp";
            string[] arguments = [];
            switch (pair)
            {
                case "sym-sym":
                    // Two different symmetric NATs: the lab's sym router and the cgnat site's carrier NAT made symmetric.
                    knobs.Add(await LabKnob.SymmetricCarrierNatAsync(lab));
                    DiscoveryRun check = await DiscoveryRun.RunAsync(lab, "cgnat", host: 1, LabFixture.OurPort, withNatdiscovery: false);
                    check.String("nat_type").ShouldBe("symmetric", $"netcheck from cgnat1 with a symmetric carrier NAT\n{check.Diagnostics(lab.Server)}");
                    (listener, connector) = (new Site("cgnat", 1), new Site("sym", 1));
                    break;
                case "port-sym":
                    // Port probing finds a direct path for these (PortProbingTests): off, to keep them on the relay.
                    (listener, connector) = (new Site("port", 1), new Site("sym", 1));
                    arguments = ["--no-port-probing"];
                    break;
                case "sym-port":
                    (listener, connector) = (new Site("sym", 1), new Site("port", 1));
                    arguments = ["--no-port-probing"];
                    break;
                case "port-udpblock":
                    // TCP punching finds a direct path for these (TcpPunchingTests): off, to keep them on the relay.
                    (listener, connector) = (new Site("port", 1), new Site("udpblock", 1));
                    connectorTransport = "tcp";
                    arguments = ["--no-tcp-punch"];
                    break;
                case "udpblock-udpblock":
                    // Two different UDP-blocking firewalls: the udpblock site, and the port site with all UDP dropped.
                    knobs.Add(await LabKnob.BlockUdpAsync(lab, "port"));
                    (listener, connector) = (new Site("udpblock", 1), new Site("port", 1));
                    (listenerTransport, connectorTransport) = ("tcp", "tcp");
                    arguments = ["--no-tcp-punch"];
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(pair), pair, "unknown pair");
            }
            if (lossPercent > 0)
            {
                knobs.Add(await LabKnob.LossAsync(lab, lossPercent));
                // Seen in CI: the listener's Allocate and its retransmission both lost, TCP granted first.
                listenerTransport = ExpectedPath.UdpUnlessLost(listenerTransport);
                connectorTransport = ExpectedPath.UdpUnlessLost(connectorTransport);
            }

            PipeRun? seen = null;
            TransferResult result = await Transfer.RunAsync(lab, files, listener, connector,
                new PipeRunOptions
                {
                    WorkDirectory = files.Directory.FullName,
                    TimeoutSeconds = 30,
                    BytesPerSecond = bytesPerSecond,
                    DeadAfterSeconds = deadAfterSeconds,
                    ListenerArguments = arguments,
                    ConnectorArguments = arguments,
                },
                limit: TimeSpan.FromSeconds(lossPercent > 0 ? 240 : 120),
                connectorPaths: [ExpectedPath.Relay(lab, listener, connectorTransport)],
                listenerPaths: [ExpectedPath.Relay(lab, connector, listenerTransport)],
                during: run =>
                {
                    seen = run;
                    return Task.CompletedTask;
                });
            // Each end's allocation: over TCP exactly where UDP is blocked. The relayed path never died.
            foreach ((PeerProcess end, string transport) in new[] { (seen!.Connector!, connectorTransport), (seen.Listener!, listenerTransport) })
            {
                string events = string.Join('\n', end.Events.Where(e => e.Name is "relay" or "relay_unavailable" or "connected" or "path_lost"));
                PeerEvent relay = end.EventsNamed("relay").ShouldHaveSingleItem($"{end.Name}: one relay event\n{events}");
                ExpectedPath.Transports(transport).ShouldContain(relay.String("transport"), $"{end.Name}: {relay}\n{events}");
                end.EventsNamed("path_lost").ShouldBeEmpty($"{end.Name}: the relayed path was lost\n{events}");
            }
            return result;
        }
        finally
        {
            for (int i = knobs.Count - 1; i >= 0; i--)
            {
                await knobs[i].DisposeAsync();
            }
        }
    }
}
