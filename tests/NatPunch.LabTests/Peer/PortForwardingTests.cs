using System.Diagnostics;
using System.Globalization;
using NatPunch.LabTests.Lab;
using NatPunch.Testing;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// <c>natpunch expose</c> serves an HTTP server (python's http.server, on 127.0.0.1 of its host) and
/// <c>natpunch forward</c> on another lab host carries 100 parallel curl downloads to it through one
/// session; every body is checked by SHA-256. Across a direct pair, across a relayed pair
/// (<c>--relay only</c>), and while the session moves from the relay to the direct path mid-download.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class PortForwardingTests(LabFixture lab) : IDisposable
{
    private const int HttpPort = 18080;
    private const int ForwardPort = 18081;
    private const int Parallel = 100;
    private const int FileSize = 2 * 1000 * 1000;

    private static int s_runs;

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("natpunch-labforward-");
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public void Dispose() => _work.Delete(recursive: true);

    [Theory]
    [InlineData("direct")]
    [InlineData("relay")]
    public async Task AHundredParallelDownloadsThroughAForwardedHttpServerArriveIntact(string path)
    {
        lab.Require();
        Site exposer = new("port", 1), forwarder = new("open", 1);
        string[] relay = path == "relay" ? ["--relay", "only"] : [];
        await using Forwarding forwarding = await StartAsync(exposer, forwarder, relay);

        PeerEvent connected = forwarding.Forward.EventsNamed("connected").ShouldHaveSingleItem(forwarding.Diagnostics());
        connected.String("path").ShouldBe(path, forwarding.Diagnostics());
        var took = Stopwatch.StartNew();
        string[] hashes = await DownloadAllAsync(forwarder, rateLimit: null, forwarding);
        took.Stop();

        hashes.ShouldAllBe(hash => hash == forwarding.FileHash, forwarding.Diagnostics());
        forwarding.Forward.EventsNamed("stream_open").Count.ShouldBe(Parallel, forwarding.Diagnostics());
        forwarding.Expose.EventsNamed("peer_connected").Count.ShouldBe(1, "one session carries every connection");
        LabReport.Write("forward", string.Create(CultureInfo.InvariantCulture,
            $"{path}: {Parallel} parallel downloads of {FileSize / 1e6:0} MB ({exposer} exposes, {forwarder} forwards) intact in {took.Elapsed.TotalSeconds:0.0} s, "
            + $"{Parallel * (double)FileSize * 8 / took.Elapsed.TotalSeconds / 1e6:0} Mbit/s together"));
    }

    /// <summary>
    /// The forwarding host's router drops all UDP, so the session starts on the relay (TURN over TCP);
    /// 100 downloads run at 100 KB/s each; UDP comes back and the session moves to the direct path
    /// under them. No connection may be lost or cut.
    /// </summary>
    [Fact]
    public async Task ForwardedConnectionsSurviveTheMoveFromTheRelayToTheDirectPath()
    {
        lab.Require();
        Site exposer = new("open", 1), forwarder = new("port", 1);
        await using LabKnob block = await LabKnob.BlockUdpAsync(lab, "port");
        // Without TCP punching, which would find a direct TCP path with UDP blocked (TcpPunchingTests).
        await using Forwarding forwarding = await StartAsync(exposer, forwarder, ["--no-tcp-punch"]);
        forwarding.Forward.EventsNamed("connected").ShouldHaveSingleItem(forwarding.Diagnostics()).String("path").ShouldBe("relay");

        Task<string[]> downloads = DownloadAllAsync(forwarder, rateLimit: "100K", forwarding);
        await Task.Delay(TimeSpan.FromSeconds(5));
        downloads.IsCompleted.ShouldBeFalse($"the downloads ended before the path could change\n{forwarding.Diagnostics()}");
        await block.UndoAsync();
        PeerEvent? direct = await forwarding.Forward.WaitForEventAsync("connected", TimeSpan.FromSeconds(20), occurrence: 2);
        direct.ShouldNotBeNull($"no move to the direct path within 20 s of UDP coming back\n{forwarding.Diagnostics()}");
        direct.String("path").ShouldBe("direct");
        downloads.IsCompleted.ShouldBeFalse($"the downloads ended before the path changed\n{forwarding.Diagnostics()}");

        string[] hashes = await downloads;
        hashes.ShouldAllBe(hash => hash == forwarding.FileHash, forwarding.Diagnostics());
        forwarding.Forward.EventsNamed("stream_closed").ShouldAllBe(e => e.String("error") == null, forwarding.Diagnostics());
        LabReport.Write("forward", string.Create(CultureInfo.InvariantCulture,
            $"relay -> direct under {Parallel} downloads at 100 KB/s each: all intact; direct {(direct.At - forwarding.Forward.EventsNamed("connected")[0].At).TotalSeconds:0.0} s after the relayed path"));
    }

    /// <summary>An HTTP server and <c>expose</c> on <paramref name="exposer"/>, <c>forward</c> on <paramref name="forwarder"/>, both ready.</summary>
    private async Task<Forwarding> StartAsync(Site exposer, Site forwarder, string[] extra)
    {
        string tag = $"{exposer}-{forwarder}-{Interlocked.Increment(ref s_runs).ToString(CultureInfo.InvariantCulture)}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        string served = Directory.CreateDirectory(Path.Combine(_work.FullName, "www")).FullName;
        string file = Path.Combine(served, "blob.bin");
        if (!File.Exists(file))
        {
            byte[] bytes = new byte[FileSize];
            new Random(5).NextBytes(bytes);
            await File.WriteAllBytesAsync(file, bytes);
        }
        string server = $"{LabFixture.ServerIp1}:{LabFixture.OurPort.ToString(CultureInfo.InvariantCulture)}";
        string name = $"x-{tag}";
        // python's http.server, with a listen backlog for 100 connections at once (its default of 5
        // makes the kernel reset some of them, which the forwarding then faithfully passes on).
        const string HttpServer = "import functools, http.server, sys\n"
            + "class Server(http.server.ThreadingHTTPServer):\n    request_queue_size = 1024\n"
            + "handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])\n"
            + "Server(('127.0.0.1', int(sys.argv[1])), handler).serve_forever()\n";
        BackgroundProcess http = lab.StartBackground(lab.HostNamespace(exposer.Kind, exposer.Host),
            ["python3", "-c", HttpServer, HttpPort.ToString(CultureInfo.InvariantCulture), served]);
        var forwarding = new Forwarding { Http = http, FileHash = PipeChecks.Hash(file) };
        forwarding.Expose = PeerProcess.Start(lab, lab.HostNamespace(exposer.Kind, exposer.Host),
            ["expose", "--server", server, "--id", name, "--allow-any", "--json", .. extra, HttpPort.ToString(CultureInfo.InvariantCulture)],
            null, 0, Path.Combine(_work.FullName, $"{tag}.expose.out"), _clock);
        if (await forwarding.Expose.WaitForEventAsync("exposing", TimeSpan.FromSeconds(60)) is null)
        {
            string why = forwarding.Diagnostics();
            await forwarding.DisposeAsync();
            throw new InvalidOperationException($"expose did not register within 60 s\n{why}");
        }
        forwarding.Forward = PeerProcess.Start(lab, lab.HostNamespace(forwarder.Kind, forwarder.Host),
            ["forward", "--server", server, "--peer", name, "--json", "--timeout", "30", .. extra, ForwardPort.ToString(CultureInfo.InvariantCulture)],
            null, 0, Path.Combine(_work.FullName, $"{tag}.forward.out"), _clock);
        if (await forwarding.Forward.WaitForEventAsync("forwarding", TimeSpan.FromSeconds(60)) is null)
        {
            string why = forwarding.Diagnostics();
            await forwarding.DisposeAsync();
            throw new InvalidOperationException($"forward did not connect within 60 s\n{why}");
        }
        return forwarding;
    }

    /// <summary>Runs <see cref="Parallel"/> curl downloads at once on <paramref name="forwarder"/>; returns each body's SHA-256.</summary>
    private async Task<string[]> DownloadAllAsync(Site forwarder, string? rateLimit, Forwarding forwarding)
    {
        string outputs = Directory.CreateDirectory(Path.Combine(_work.FullName, $"got-{Interlocked.Increment(ref s_runs)}")).FullName;
        string limit = rateLimit is null ? "" : $"--limit-rate {rateLimit}";
        string script = $"for i in $(seq {Parallel}); do curl -sS --max-time 120 {limit} -o {outputs}/$i http://127.0.0.1:{ForwardPort}/blob.bin & done; wait; cd {outputs} && sha256sum $(seq {Parallel})";
        ExternalProcess.Result result = await lab.Exec(lab.HostNamespace(forwarder.Kind, forwarder.Host), ["bash", "-c", script], TimeSpan.FromSeconds(180));
        string[] hashes = [.. result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ')[0])];
        hashes.Length.ShouldBe(Parallel, $"curl: {result.StandardError}\n{forwarding.Diagnostics()}");
        return hashes;
    }

    private sealed class Forwarding : IAsyncDisposable
    {
        public required BackgroundProcess Http { get; init; }

        public required string FileHash { get; init; }

        public PeerProcess Expose { get; set; } = null!;

        public PeerProcess Forward { get; set; } = null!;

        public string Diagnostics() => $"{Expose?.Describe()}\n{Forward?.Describe()}\n--- http.server\n{Http.Tail(20)}";

        public async ValueTask DisposeAsync()
        {
            if (Forward is not null)
            {
                await Forward.DisposeAsync();
            }
            if (Expose is not null)
            {
                await Expose.DisposeAsync();
            }
            await Http.DisposeAsync();
        }
    }
}
