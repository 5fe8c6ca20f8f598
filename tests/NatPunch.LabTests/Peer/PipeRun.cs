using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>A lab host: kind and host number (1 or 2), "port1".</summary>
public sealed record Site(string Kind, int Host)
{
    /// <summary>"port1" → (port, 1).</summary>
    public static Site Parse(string name) => new(name[..^1], name[^1] - '0');

    public override string ToString() => $"{Kind}{Host.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>How a <see cref="PipeRun"/> is started.</summary>
public sealed record PipeRunOptions
{
    /// <summary>Directory for the output files (created by the caller).</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>What the listener sends (a file), or null for nothing.</summary>
    public string? ListenerInput { get; init; }

    /// <summary>What the connector sends (a file), or null for nothing.</summary>
    public string? ConnectorInput { get; init; }

    /// <summary>Feed rate of both inputs in bytes per second; 0 = unlimited.</summary>
    public long BytesPerSecond { get; init; }

    /// <summary>--timeout of both ends, seconds.</summary>
    public int TimeoutSeconds { get; init; } = 20;

    /// <summary>--dead-after of both ends, seconds; null leaves the default.</summary>
    public int? DeadAfterSeconds { get; init; }

    /// <summary>--relay of both ends (auto, never, only); null gives no relay option at all (the default, auto).</summary>
    public string? Relay { get; init; }

    /// <summary>The connector's --server instead of the lab server's IP:3478 (the bare host, say, to let it find port 443).</summary>
    public string? ConnectorServer { get; init; }

    /// <summary>More options for the connector (--proxy, say).</summary>
    public IReadOnlyList<string> ConnectorArguments { get; init; } = [];

    /// <summary>More options for the listener.</summary>
    public IReadOnlyList<string> ListenerArguments { get; init; } = [];
}

/// <summary>
/// <c>natpunch listen</c> on one lab host and <c>natpunch connect</c> to it from another, with
/// <c>--json</c>: the listener is started first and the connector once the listener has
/// registered, as a user would. Names are unique per run, so runs never meet each other's peers.
/// Disposing kills whatever still runs.
/// </summary>
public sealed class PipeRun : IAsyncDisposable
{
    private static int s_runs;

    private readonly LabFixture _lab;

    private PipeRun(LabFixture lab, Site listenerSite, Site connectorSite, string tag)
    {
        _lab = lab;
        ListenerSite = listenerSite;
        ConnectorSite = connectorSite;
        Tag = tag;
    }

    public Site ListenerSite { get; }

    public Site ConnectorSite { get; }

    /// <summary>Unique per run: the names registered and the output files carry it.</summary>
    public string Tag { get; }

    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public PeerProcess? Listener { get; private set; }

    public PeerProcess? Connector { get; private set; }

    public static async Task<PipeRun> StartAsync(LabFixture lab, Site listener, Site connector, PipeRunOptions options)
    {
        string tag = $"{listener}-{connector}-{Interlocked.Increment(ref s_runs).ToString(CultureInfo.InvariantCulture)}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        var run = new PipeRun(lab, listener, connector, tag);
        string server = $"{LabFixture.ServerIp1}:{LabFixture.OurPort.ToString(CultureInfo.InvariantCulture)}";
        List<string> common = ["--json", "--timeout", options.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)];
        if (options.DeadAfterSeconds is { } deadAfter)
        {
            common.AddRange(["--dead-after", deadAfter.ToString(CultureInfo.InvariantCulture)]);
        }
        if (options.Relay is { } relay)
        {
            common.AddRange(["--relay", relay]);
        }
        string listenerName = $"l-{tag}", connectorName = $"c-{tag}";
        run.Listener = PeerProcess.Start(lab, lab.HostNamespace(listener.Kind, listener.Host),
            ["listen", "--server", server, "--id", listenerName, .. common, .. options.ListenerArguments], options.ListenerInput, options.BytesPerSecond,
            Path.Combine(options.WorkDirectory, $"{tag}.listener.out"), run.Clock);
        // dotnet start-up, JIT, gathering and registration: seconds on a loaded 2-core CI machine.
        if (await run.Listener.WaitForEventAsync("registered", TimeSpan.FromSeconds(60)) is null)
        {
            string why = run.Diagnostics();
            await run.DisposeAsync();
            throw new InvalidOperationException($"the listener did not register within 60 s\n{why}");
        }
        run.Connector = PeerProcess.Start(lab, lab.HostNamespace(connector.Kind, connector.Host),
            ["connect", "--server", options.ConnectorServer ?? server, "--id", connectorName, "--peer", listenerName, .. common, .. options.ConnectorArguments],
            options.ConnectorInput, options.BytesPerSecond,
            Path.Combine(options.WorkDirectory, $"{tag}.connector.out"), run.Clock);
        return run;
    }

    /// <summary>Both ended within <paramref name="timeout"/> (measured from now).</summary>
    public async Task<bool> WaitForBothAsync(TimeSpan timeout)
    {
        var limit = Stopwatch.StartNew();
        bool connector = await Connector!.WaitForExitAsync(timeout);
        TimeSpan left = timeout - limit.Elapsed;
        bool listener = await Listener!.WaitForExitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        return connector && listener;
    }

    /// <summary>Both ends' stderr (time-stamped) and exit codes, and the server's log tail.</summary>
    public string Diagnostics() =>
        $"run {Tag}: listener {ListenerSite}, connector {ConnectorSite}\n{Listener?.Describe()}\n{Connector?.Describe()}\n"
        + $"--- natpunch server log (tail)\n{_lab.Server?.Tail(60)}";

    public async ValueTask DisposeAsync()
    {
        if (Connector is not null)
        {
            await Connector.DisposeAsync();
        }
        if (Listener is not null)
        {
            await Listener.DisposeAsync();
        }
    }
}

/// <summary>What a finished run says, checked against the CLI contract.</summary>
public static class PipeChecks
{
    public static string Hash(string file)
    {
        using FileStream stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>The host part of an "IP:PORT" in an event.</summary>
    public static string HostOf(string? endPoint) =>
        endPoint is not null && IPEndPoint.TryParse(endPoint, out IPEndPoint? parsed) ? parsed.Address.ToString() : endPoint ?? "";

    /// <summary>Where an <paramref name="input"/> file differs from <paramref name="output"/>, in words.</summary>
    public static string Difference(string input, string output)
    {
        var a = new FileInfo(input);
        var b = new FileInfo(output);
        if (!b.Exists)
        {
            return "no output file";
        }
        using FileStream x = a.OpenRead();
        using FileStream y = b.OpenRead();
        byte[] bx = new byte[64 * 1024], by = new byte[64 * 1024];
        long offset = 0;
        while (true)
        {
            int nx = x.ReadAtLeast(bx, bx.Length, throwOnEndOfStream: false);
            int ny = y.ReadAtLeast(by, by.Length, throwOnEndOfStream: false);
            int n = Math.Min(nx, ny);
            for (int i = 0; i < n; i++)
            {
                if (bx[i] != by[i])
                {
                    return $"first difference at byte {offset + i} (sent {a.Length} bytes, received {b.Length})";
                }
            }
            if (nx != ny)
            {
                return $"received {b.Length} bytes of {a.Length}, identical as far as they go";
            }
            if (n == 0)
            {
                return "identical";
            }
            offset += n;
        }
    }
}
