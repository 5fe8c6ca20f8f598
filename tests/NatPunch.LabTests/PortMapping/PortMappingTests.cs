using System.Globalization;
using System.Text.Json;
using NatPunch.LabTests.Lab;
using NatPunch.LabTests.Peer;
using NatPunch.Testing;

namespace NatPunch.LabTests.PortMapping;

/// <summary>
/// Port mapping against a real gateway: miniupnpd (Debian's miniupnpd-nftables) on the lab's upnp
/// router, a symmetric NAT (<c>masquerade fully-random</c>) that speaks UPnP-IGD, NAT-PMP and PCP.
/// Each protocol maps a port that answers from the internet and is removed at exit; and a peer
/// there reaches a peer behind another symmetric NAT directly, in both roles, which without the
/// mapping ends on the relay (<see cref="NoDirectPathTests"/>).
/// </summary>
[Collection(LabCollection.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PortMappingTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    private static readonly Site Mapped = new("upnp", 1), Symmetric = new("sym", 1);

    // Sends one datagram and prints what comes back, or "silence".
    private const string UdpProbe = """
        import socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
        s.sendto(b"natpunch-probe", (sys.argv[1], int(sys.argv[2])))
        try: print(s.recvfrom(100)[0].decode())
        except socket.timeout: print("silence")
        """;

    [Theory]
    [InlineData("pcp")]
    [InlineData("nat-pmp")]
    [InlineData("upnp")]
    public async Task EachProtocolOpensAPortThatAnswersFromTheInternetAndRemovesItAtExit(string protocol)
    {
        lab.RequireMiniupnpd();
        Requires.Tool("python3");
        string host = lab.HostNamespace("upnp"), router = lab.Info["router_upnp_ns"];
        // Interrupted (SIGTERM) after 15 s, as Ctrl-C would: it removes the mapping and says so.
        await using BackgroundProcess portmap = lab.StartBackground(host,
            ["timeout", "-s", "TERM", "15", LabFixture.DotnetHost, LabFixture.NatpunchDll, "portmap", "--protocol", protocol, "--echo", "--json", "--lifetime", "120"]);
        JsonElement mapped = await WaitForEventAsync(portmap, "mapped", TimeSpan.FromSeconds(10));
        mapped.GetProperty("protocol").GetString().ShouldBe(protocol);
        string external = mapped.GetProperty("external").GetString()!;
        string[] parts = external.Split(':');
        parts[0].ShouldBe(lab.PublicIp("upnp"), portmap.Log);
        mapped.GetProperty("behind_another_nat").GetBoolean().ShouldBeFalse();

        ExternalProcess.Result probe = await lab.Exec(lab.Info["srv_ns"], ["python3", "-c", UdpProbe, parts[0], parts[1]], TimeSpan.FromSeconds(10));
        probe.StandardOutput.Trim().ShouldBe("natpunch-probe", $"no echo through {external}\n{probe}\n{portmap.Log}");
        (await DnatRulesAsync(router)).ShouldContain($"dport {parts[1]} dnat ip to {lab.HostIp("upnp")}:", Case.Sensitive, portmap.Log);

        JsonElement removed = await WaitForEventAsync(portmap, "removed", TimeSpan.FromSeconds(25));
        removed.GetProperty("external").GetString().ShouldBe(external);
        (await DnatRulesAsync(router)).ShouldNotContain($"dport {parts[1]} ", Case.Sensitive, "the mapping outlived the process");
        LabReport.Write("port-mapping", $"{protocol}: mapped {external}, answered from the internet, removed at exit");
    }

    [Fact]
    public async Task NetcheckOnAHostWithoutAMappingGatewaySaysSoAndWhy()
    {
        lab.Require();
        ExternalProcess.Result netcheck = await lab.Natpunch(lab.HostNamespace("sym"), ["netcheck", "--server", LabFixture.ServerIp1, "--json"], TimeSpan.FromSeconds(30));
        using JsonDocument report = JsonDocument.Parse(netcheck.StandardOutput);
        JsonElement mapping = report.RootElement.GetProperty("port_mapping");
        mapping.GetProperty("gateway").GetString().ShouldBe(lab.Info["router_sym_lan_ip"]);
        mapping.GetProperty("pcp").GetBoolean().ShouldBeFalse();
        mapping.GetProperty("pcp_reason").GetString().ShouldBe("no answer on UDP port 5351");
        mapping.GetProperty("upnp_reason").GetString()!.ShouldContain("SSDP");
    }

    public static TheoryData<string, string> Roles => new() { { "upnp1", "sym1" }, { "sym1", "upnp1" } };

    [Theory]
    [MemberData(nameof(Roles))]
    public async Task ASymmetricNatWithPortMappingReachesAnotherSymmetricNatDirectly(string listener, string connector)
    {
        lab.RequireMiniupnpd();
        Site l = Site.Parse(listener), c = Site.Parse(connector);
        Site mappedSide = l.Kind == "upnp" ? l : c;
        TransferResult result = await Transfer.RunAsync(lab, files, l, c,
            during: run =>
            {
                PeerProcess mapped = mappedSide == l ? run.Listener! : run.Connector!;
                PeerEvent portMapped = mapped.EventsNamed("port_mapped").ShouldHaveSingleItem(run.Diagnostics());
                portMapped.String("external")!.ShouldStartWith(lab.PublicIp("upnp") + ":");
                return Task.CompletedTask;
            });
        LabReport.Write("port-mapping", $"{result.Summary} (the upnp side's port mapped with PCP)");
    }

    private static async Task<JsonElement> WaitForEventAsync(BackgroundProcess process, string name, TimeSpan limit)
    {
        DateTime deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            foreach (string line in process.Log.Split('\n'))
            {
                if (line.StartsWith('{') && JsonDocument.Parse(line).RootElement is { } element
                    && element.GetProperty("event").GetString() == name)
                {
                    return element.Clone();
                }
            }
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        throw new ShouldAssertException($"no '{name}' event within {limit.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s\n{process.Log}");
    }

    private async Task<string> DnatRulesAsync(string router)
    {
        ExternalProcess.Result list = await lab.Exec(router, ["nft", "list", "chain", "inet", "filter", "prerouting_miniupnpd"], TimeSpan.FromSeconds(10));
        list.ExitCode.ShouldBe(0, list.ToString());
        return list.StandardOutput;
    }
}
