using System.Net;
using System.Text.Json;
using NatPunch.Cli.Commands;
using NatPunch.Discovery;

namespace NatPunch.Tests.Client;

/// <summary>The words and JSON of <c>natpunch netcheck</c> for NATs that loopback cannot show.</summary>
public class NetcheckOutputTests
{
    private static readonly HostAndPort Server = new("stun.example.org", 3478);

    private static readonly NatReport Symmetric = new()
    {
        Server = IPEndPoint.Parse("192.0.2.1:3478"),
        LocalEndPoint = IPEndPoint.Parse("10.0.0.2:40000"),
        UdpWorks = true,
        TcpWorks = true,
        PublicEndPoint = IPEndPoint.Parse("203.0.113.7:50000"),
        PublicEndPoints = [IPEndPoint.Parse("203.0.113.7:50000"), IPEndPoint.Parse("203.0.113.7:50001"), IPEndPoint.Parse("203.0.113.7:50002")],
        NatDetected = true,
        Mapping = NatBehavior.AddressAndPortDependent,
        Filtering = NatBehavior.AddressAndPortDependent,
        Hairpinning = false,
        HairpinningReason = "a packet sent to this host's own public address did not come back",
        SupportsRfc5780 = true,
        OtherAddress = IPEndPoint.Parse("192.0.2.2:3479"),
        RoundTripTime = TimeSpan.FromMilliseconds(23.4),
        RoundTripSamples = 5,
        MappingLifetime = new MappingLifetimeEstimate { AtLeast = TimeSpan.FromSeconds(30), AtMost = TimeSpan.FromSeconds(34.5), Probes = 12, Rounds = 3 },
        Elapsed = TimeSpan.FromSeconds(5.6),
    };

    [Fact]
    public void TableNamesTheNatAndSaysWhatToDo()
    {
        string table = NetcheckCommand.FormatTable(Server, Symmetric);

        table.ShouldContain("  Server            stun.example.org:3478 (192.0.2.1:3478)\n");
        table.ShouldContain("  Public address    203.0.113.7:50000, 203.0.113.7:50001, 203.0.113.7:50002 (one per destination)\n");
        table.ShouldContain("  Mapping           address-and-port-dependent\n");
        table.ShouldContain("  Hairpinning       no (a packet sent to this host's own public address did not come back)\n");
        table.ShouldContain("  Round-trip time   23.4 ms (median of 5)\n");
        table.ShouldContain("  Mapping lifetime  between 30 and 34.5 s\n");
        table.ShouldContain("  NAT type          symmetric\n");
        table.ShouldContain("Symmetric NAT: direct connections to peers behind similar NATs will usually fail; a relay will be needed.\n");
        table.ShouldContain("send keep-alives every 24 s or less");
    }

    [Fact]
    public void TableForUdpBlocked()
    {
        NatReport blocked = Symmetric with
        {
            UdpWorks = false,
            UdpReason = "no answer to Binding requests over UDP",
            NatDetected = null,
            Mapping = NatBehavior.Unknown,
            MappingReason = "UDP to the server does not work",
            MappingLifetime = null,
        };

        string table = NetcheckCommand.FormatTable(Server, blocked);

        table.ShouldContain("  UDP               no (no answer to Binding requests over UDP)\n");
        table.ShouldContain("  NAT type          UDP blocked\n");
        table.ShouldEndWith("UDP is blocked; only TCP relay will work.\n");
    }

    [Fact]
    public void JsonHasStableKeysAndTokens()
    {
        using JsonDocument document = JsonDocument.Parse(NetcheckCommand.FormatJson(Server, Symmetric, null));
        JsonElement root = document.RootElement;

        root.GetProperty("server").GetString().ShouldBe("stun.example.org:3478");
        root.GetProperty("server_address").GetString().ShouldBe("192.0.2.1:3478");
        root.GetProperty("nat_type").GetString().ShouldBe("symmetric");
        root.GetProperty("mapping").GetString().ShouldBe("address_and_port_dependent");
        root.GetProperty("filtering").GetString().ShouldBe("address_and_port_dependent");
        root.GetProperty("hairpinning").GetBoolean().ShouldBeFalse();
        root.GetProperty("public_addresses").GetArrayLength().ShouldBe(3);
        root.GetProperty("rtt_ms").GetDouble().ShouldBe(23.4);
        JsonElement lifetime = root.GetProperty("mapping_lifetime");
        lifetime.GetProperty("at_least_s").GetDouble().ShouldBe(30);
        lifetime.GetProperty("at_most_s").GetDouble().ShouldBe(34.5);
        lifetime.GetProperty("suggested_keepalive_s").GetDouble().ShouldBe(24);
        lifetime.GetProperty("rounds").GetInt32().ShouldBe(3);
        root.GetProperty("error").ValueKind.ShouldBe(JsonValueKind.Null);
        root.GetProperty("advice").EnumerateArray().Select(a => a.GetString()).ShouldContain(a => a!.StartsWith("Symmetric NAT", StringComparison.Ordinal));
    }

    [Fact]
    public void JsonIsOneLineAndReadable()
    {
        string json = NetcheckCommand.FormatJson(Server, Symmetric with { HairpinningReason = "it's \"quoted\"" }, null);

        json.ShouldNotContain("\n");
        json.ShouldContain("it's \\\"quoted\\\"");
    }

    [Fact]
    public void JsonErrorObjectForAnUnresolvableName()
    {
        using JsonDocument document = JsonDocument.Parse(NetcheckCommand.FormatJsonError(Server, "cannot resolve 'stun.example.org'"));

        document.RootElement.GetProperty("nat_type").GetString().ShouldBe("unreachable");
        document.RootElement.GetProperty("error").GetString().ShouldBe("cannot resolve 'stun.example.org'");
        document.RootElement.GetProperty("server_address").ValueKind.ShouldBe(JsonValueKind.Null);
    }
}
