using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using NatPunch.Server;
using NatPunch.Server.Hosting;

namespace NatPunch.IntegrationTests.Server;

/// <summary>The server's Prometheus metrics: served over HTTP, counting what happened, and each one documented.</summary>
public sealed partial class PrometheusMetricsTests
{
    [Fact]
    public async Task AScrapeShowsWhatTheServerDidAndWhatItRefused()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            TcpHandshakeTimeout = TimeSpan.FromMilliseconds(300),
        });
        server.Start();
        using var metrics = new PrometheusMetrics(server);
        int port = FreeTcpPort();
        metrics.Serve(new IPEndPoint(IPAddress.Loopback, port));

        using (var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            byte[] request = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, .. Enumerable.Range(1, 12).Select(i => (byte)i)];
            await udp.SendToAsync(request, SocketFlags.None, server.UdpEndPoints[0], ct);
            await udp.ReceiveAsync(new byte[512], SocketFlags.None, ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), ct);
        }
        using (var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await silent.ConnectAsync(server.UdpEndPoints[0], ct);
            while (server.Counters.Refusals(ServerRefusal.TcpHandshakeTimeout) == 0)
            {
                await Task.Delay(50, ct);
            }
        }

        using var http = new HttpClient();
        HttpResponseMessage response = await http.GetAsync($"http://127.0.0.1:{port}/metrics", ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        string text = await response.Content.ReadAsStringAsync(ct);

        Value(text, "natpunch_stun_requests_total").ShouldBeGreaterThanOrEqualTo(1);
        Value(text, "natpunch_stun_responses_total").ShouldBeGreaterThanOrEqualTo(1);
        Value(text, "natpunch_tcp_connections_accepted_total").ShouldBe(1);
        Value(text, "natpunch_refusals_total{kind=\"TcpHandshakeTimeout\"}").ShouldBe(1);
        Value(text, "natpunch_turn_allocations").ShouldBe(0);
        text.ShouldContain("process_cpu_seconds_total");
    }

    [Fact]
    public async Task EveryMetricIsDocumentedAndEveryDocumentedMetricExists()
    {
        await using var server = new NatPunchServer(new NatPunchServerOptions { Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        server.Start();
        using var metrics = new PrometheusMetrics(server);

        string text = await metrics.ExportAsync(TestContext.Current.CancellationToken);
        HashSet<string> exported = [.. MetricLine().Matches(text).Select(m => m.Groups[1].Value)];
        string docs = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "docs", "metrics.md"), TestContext.Current.CancellationToken);
        HashSet<string> documented = [.. DocumentedMetric().Matches(docs).Select(m => m.Groups[1].Value)];

        exported.ShouldNotBeEmpty();
        exported.Except(documented).ShouldBeEmpty("exported but not in docs/metrics.md");
        documented.Except(exported).ShouldBeEmpty("in docs/metrics.md but not exported");
    }

    private static double Value(string text, string series)
    {
        string line = text.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int FreeTcpPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NatPunch.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("the repository root (NatPunch.slnx) is not above the test's directory");
    }

    [GeneratedRegex(@"^(natpunch_[a-z_]+)[ {]", RegexOptions.Multiline)]
    private static partial Regex MetricLine();

    [GeneratedRegex(@"^\| `(natpunch_[a-z_]+)`", RegexOptions.Multiline)]
    private static partial Regex DocumentedMetric();
}
