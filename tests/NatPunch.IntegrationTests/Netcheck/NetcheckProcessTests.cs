using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using NatPunch.IntegrationTests.Coturn;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary><c>natpunch netcheck</c> as a user runs it: a separate process, against coturn on loopback.</summary>
public class NetcheckProcessTests(Rfc5780CoturnFixture coturn) : IClassFixture<Rfc5780CoturnFixture>
{
    /// <summary>Every key docs/netcheck.md promises, always present.</summary>
    private static readonly string[] Keys =
    [
        "server", "server_address", "local_address", "public_address", "public_addresses", "udp", "udp_reason",
        "tcp", "tcp_reason", "nat_detected", "nat_type", "nat_type_name", "mapping", "mapping_reason", "filtering",
        "filtering_reason", "hairpinning", "hairpinning_reason", "rfc5780", "other_address", "server_software",
        "server_error", "rtt_ms", "rtt_samples", "mapping_lifetime", "port_mapping", "advice", "elapsed_ms", "malformed_datagrams", "error",
    ];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task JsonIsOneObjectWithTheDocumentedKeys()
    {
        CoturnServer server = coturn.Require();

        NatpunchProcess.Result run = await NatpunchProcess.RunAsync(TimeSpan.FromSeconds(60), Cancel, "netcheck", "--server", server.Primary.ToString(), "--json");

        run.ExitCode.ShouldBe(0, run.Error);
        using JsonDocument document = JsonDocument.Parse(run.Output);
        JsonElement root = document.RootElement;
        root.ValueKind.ShouldBe(JsonValueKind.Object);
        root.EnumerateObject().Select(p => p.Name).ShouldBe(Keys, ignoreOrder: true);
        root.GetProperty("server").GetString().ShouldBe(server.Primary.ToString());
        root.GetProperty("udp").GetBoolean().ShouldBeTrue();
        root.GetProperty("tcp").GetBoolean().ShouldBeTrue();
        root.GetProperty("nat_detected").GetBoolean().ShouldBeFalse();
        root.GetProperty("nat_type").GetString().ShouldBe("open_internet");
        root.GetProperty("nat_type_name").GetString().ShouldBe("no NAT (open internet)");
        root.GetProperty("mapping").GetString().ShouldBe("endpoint_independent");
        root.GetProperty("filtering").GetString().ShouldBe("endpoint_independent");
        root.GetProperty("hairpinning").GetBoolean().ShouldBeTrue();
        root.GetProperty("rfc5780").GetBoolean().ShouldBeTrue();
        root.GetProperty("other_address").GetString().ShouldBe(server.Alternate.ToString());
        IPEndPoint local = IPEndPoint.Parse(root.GetProperty("local_address").GetString()!);
        root.GetProperty("public_address").GetString().ShouldBe(local.ToString());
        root.GetProperty("rtt_ms").GetDouble().ShouldBeGreaterThanOrEqualTo(0);
        root.GetProperty("mapping_lifetime").ValueKind.ShouldBe(JsonValueKind.Null);
        // A server on loopback: its peers are on this host, no gateway is asked (nor the test machine's real one).
        root.GetProperty("port_mapping").ValueKind.ShouldBe(JsonValueKind.Null);
        root.GetProperty("error").ValueKind.ShouldBe(JsonValueKind.Null);
        root.GetProperty("advice").GetArrayLength().ShouldBeGreaterThan(0);
        run.Error.ShouldContain("Binding request to");
    }

    [Fact]
    public async Task HumanOutputIsATableWithAdvice()
    {
        CoturnServer server = coturn.Require();

        NatpunchProcess.Result run = await NatpunchProcess.RunAsync(TimeSpan.FromSeconds(60), Cancel, "netcheck", "--server", server.Primary.ToString());

        run.ExitCode.ShouldBe(0, run.Error);
        run.Output.ShouldContain("Public address");
        run.Output.ShouldContain("Mapping           endpoint-independent");
        run.Output.ShouldContain("Filtering         endpoint-independent");
        run.Output.ShouldContain("Hairpinning       yes");
        run.Output.ShouldContain("NAT type          no NAT (open internet)");
        run.Output.ShouldContain("peers can reach this host directly");
    }

    [Fact]
    public async Task UnreachableServerExitsOneWithinTheTimeout()
    {
        int port = UnusedPort();

        NatpunchProcess.Result run = await NatpunchProcess.RunAsync(TimeSpan.FromSeconds(30), Cancel,
            "netcheck", "--server", $"127.0.0.1:{port}", "--timeout", "2", "--json");

        run.ExitCode.ShouldBe(1);
        run.Error.ShouldContain($"cannot reach the STUN server 127.0.0.1:{port}");
        // Two seconds of probing plus the start-up of a .NET process.
        run.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(12));
        using JsonDocument document = JsonDocument.Parse(run.Output);
        document.RootElement.GetProperty("udp").GetBoolean().ShouldBeFalse();
        document.RootElement.GetProperty("tcp").GetBoolean().ShouldBeFalse();
        document.RootElement.GetProperty("nat_type").GetString().ShouldBe("unreachable");
        document.RootElement.GetProperty("error").GetString()!.ShouldContain("cannot reach");
    }

    [Theory]
    [InlineData("netcheck")]
    [InlineData("netcheck", "--server", "bad host:1")]
    [InlineData("netcheck", "--server", "127.0.0.1:0")]
    [InlineData("netcheck", "--server", "127.0.0.1:3478", "--timeout", "0")]
    [InlineData("netcheck", "--server", "127.0.0.1:3478", "--bogus")]
    public async Task UsageErrorsExitTwo(params string[] arguments)
    {
        NatpunchProcess.Result run = await NatpunchProcess.RunAsync(TimeSpan.FromSeconds(30), Cancel, arguments);

        run.ExitCode.ShouldBe(2, run.Output + run.Error);
        run.Error.ShouldNotBeNullOrWhiteSpace();
        run.Output.ShouldBeEmpty();
    }

    /// <summary>A loopback port with nothing on it, for UDP and TCP (bound, then released).</summary>
    private static int UnusedPort()
    {
        for (int i = 0; i < 100; i++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("No unused port found.");
    }
}
