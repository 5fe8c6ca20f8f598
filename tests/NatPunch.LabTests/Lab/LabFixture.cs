using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NatPunch.Testing;

namespace NatPunch.LabTests.Lab;

/// <summary>
/// The NAT lab of <c>lab/lab.sh</c>, built once for all lab tests, with our server (and coturn's,
/// where installed) running in its server namespace.
/// <list type="bullet">
/// <item>Prefix: the first free slot <c>nplt0</c>…<c>nplt9</c> (or <c>$NATPUNCH_LAB_PREFIX</c>), claimed
/// with an exclusive lock file, so concurrent runs never share a lab. A crashed run releases its lock
/// when its process dies; whatever it left behind under that prefix is therefore removed
/// (<c>lab.sh down</c>) before <c>up</c>.</item>
/// <item>Dispose always kills the servers it started (whole process tree) and runs <c>lab.sh down</c>,
/// also after an <c>up</c> that failed half-way; a ProcessExit handler does the same if the test host
/// is stopped before the fixture is disposed.</item>
/// <item>Without root, <c>ip</c> or <c>nft</c> nothing is built and <see cref="Require"/> skips the
/// test with the reason (fails under CI, NATPUNCH_REQUIRE_ALL=1).</item>
/// </list>
/// Only traffic between the lab's namespaces is ever generated: every command runs through
/// <c>ip netns exec</c> in a namespace of this lab.
/// </summary>
public sealed class LabFixture : IAsyncLifetime
{
    /// <summary>The server's primary and alternate (RFC 5780) addresses in the lab.</summary>
    public const string ServerIp1 = "203.0.113.10";
    public const string ServerIp2 = "203.0.113.11";

    /// <summary>Our server: STUN on this port and the next, on both addresses.</summary>
    public const int OurPort = 3478;

    /// <summary>Our server also serves TLS (and plain TCP) here, with a self-signed certificate: the port locked-down networks let out.</summary>
    public const int OurTlsPort = 443;

    /// <summary>coturn's turnserver: this port and the next (--alt-listening-port), on both addresses.</summary>
    public const int CoturnPort = 3480;

    public static readonly string[] Kinds = ["open", "full", "addr", "port", "sym", "udpblock", "cgnat", "upnp"];

    /// <summary>
    /// NATs that take unsolicited packets for themselves, each behind an ISP router: two port-restricted
    /// sites and a carrier NAT in front of a home NAT, both of that kind (docs/lab.md). Not in
    /// <see cref="Kinds"/>: the every-pair table keeps to the kinds above; ClashingNatTests pair these.
    /// </summary>
    public static readonly string[] ClashingKinds = ["clash", "clashb", "cgclash"];

    private static readonly TimeSpan UpTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan DownTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ServerStartTimeout = TimeSpan.FromSeconds(30);

    // Guards _background and _tornDown (the ProcessExit handler may race with DisposeAsync).
    private readonly Lock _lock = new();
    private readonly List<BackgroundProcess> _background = [];
    private readonly StringBuilder _setupLog = new();
    private bool _tornDown;
    private PosixSignalRegistration[] _signals = [];
    private FileStream? _slot;
    private string? _prefix;
    private DirectoryInfo? _temp;

    /// <summary>The server's self-signed TLS certificate: every TCP port of our server speaks TLS too.</summary>
    public TestCertificate? Certificate { get; private set; }
    private Exception? _failure;
    private Exception? _coturnFailure;
    private Exception? _miniupnpdFailure;
    private Dictionary<string, string> _info = [];

    public string RepositoryRoot { get; } = FindRepositoryRoot();

    public string LabScript => Path.Combine(RepositoryRoot, "lab", "lab.sh");

    /// <summary>natpunch.dll, next to the test assembly (the test project references the CLI).</summary>
    public static string NatpunchDll => Path.Combine(AppContext.BaseDirectory, "natpunch.dll");

    public string Prefix => _prefix ?? throw new InvalidOperationException("The lab is not up.");

    /// <summary><c>lab.sh info</c> as key → value (host_port1_ns, host_port1_ip, public_port_ip, srv_ns, ...).</summary>
    public IReadOnlyDictionary<string, string> Info => _info;

    public BackgroundProcess? Server { get; private set; }

    public BackgroundProcess? Coturn { get; private set; }

    /// <summary>What setup did (lab.sh output, servers started), for diagnostics.</summary>
    public string SetupLog
    {
        get
        {
            lock (_lock)
            {
                return _setupLog.ToString();
            }
        }
    }

    public string HostNamespace(string kind, int host = 1) => Info[$"host_{kind}{host}_ns"];

    public string HostIp(string kind, int host = 1) => Info[$"host_{kind}{host}_ip"];

    /// <summary>The address the internet sees for the hosts of <paramref name="kind"/>.</summary>
    public string PublicIp(string kind, int host = 1) => kind == "open" ? Info[$"public_open{host}_ip"] : Info[$"public_{kind}_ip"];

    public string ServerNamespace => Info["srv_ns"];

    public string InternetNamespace => Info["inet_ns"];

    // ---- preconditions --------------------------------------------------------------------

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();

    private static bool IsRoot => OperatingSystem.IsLinux() && GetEffectiveUserId() == 0;

    private static bool CanBuild => IsRoot && Requires.FindOnPath("ip") is not null && Requires.FindOnPath("nft") is not null;

    /// <summary>
    /// Skips the test without root, ip or nft (fails under CI); fails it if the lab could not be
    /// built or our server did not start.
    /// </summary>
    public void Require()
    {
        Requires.Root();
        Requires.Tool("ip");
        Requires.Tool("nft");
        if (_failure is not null)
        {
            throw new InvalidOperationException($"The lab could not be set up: {_failure.Message}\n--- setup log\n{SetupLog}", _failure);
        }
    }

    /// <summary><see cref="Require"/>, and miniupnpd (UPnP-IGD, NAT-PMP, PCP) running on the upnp router.</summary>
    public void RequireMiniupnpd()
    {
        Require();
        Requires.Tool("miniupnpd");
        if (_miniupnpdFailure is not null)
        {
            throw new InvalidOperationException($"miniupnpd did not start in the lab: {_miniupnpdFailure.Message}", _miniupnpdFailure);
        }
    }

    /// <summary><see cref="Require"/>, and coturn's turnserver running in the lab.</summary>
    public void RequireCoturn()
    {
        Require();
        Requires.Tool("turnserver");
        if (_coturnFailure is not null)
        {
            throw new InvalidOperationException($"coturn did not start in the lab: {_coturnFailure.Message}", _coturnFailure);
        }
    }

    // ---- life cycle -----------------------------------------------------------------------

    public async ValueTask InitializeAsync()
    {
        if (!CanBuild)
        {
            return;
        }
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        _signals = [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGHUP }.Select(s => PosixSignalRegistration.Create(s, _ => TearDownNow()))];
        try
        {
            await SetUpAsync();
        }
        catch (Exception ex)
        {
            _failure = ex;
            Note($"setup failed: {ex.Message}");
            // A half-built lab must not outlive a failed setup.
            await TearDownAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        foreach (PosixSignalRegistration signal in _signals)
        {
            signal.Dispose();
        }
        await TearDownAsync();
    }

    private async Task SetUpAsync()
    {
        _prefix = ClaimPrefix(out _slot);
        // Temporary directories of a crashed run with this prefix (we hold its lock now).
        foreach (string stale in Directory.EnumerateDirectories(Path.GetTempPath(), $"natpunch-lab-{_prefix}-*"))
        {
            try
            {
                Directory.Delete(stale, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        _temp = Directory.CreateTempSubdirectory($"natpunch-lab-{_prefix}-");
        Note($"prefix {_prefix}, repository {RepositoryRoot}");

        // Leftovers of a crashed run with this prefix (its lock died with it): remove them first.
        ExternalProcess.Result leftovers = await LabAsync(DownTimeout, "down", _prefix);
        Note($"lab.sh down {_prefix} (leftovers): {leftovers.Output.Trim()}");

        ExternalProcess.Result up = await LabAsync(UpTimeout, "up", _prefix);
        Note($"lab.sh up {_prefix}: {up.Output.Trim()}");
        if (up.ExitCode != 0)
        {
            throw new InvalidOperationException($"lab.sh up {_prefix} failed: {up}");
        }

        ExternalProcess.Result info = await LabAsync(TimeSpan.FromSeconds(30), "info", _prefix);
        if (info.ExitCode != 0)
        {
            throw new InvalidOperationException($"lab.sh info {_prefix} failed: {info}");
        }
        _info = ParseInfo(info.StandardOutput);
        if (_info.GetValueOrDefault("srv_ip1") != ServerIp1 || _info.GetValueOrDefault("srv_ip2") != ServerIp2)
        {
            throw new InvalidOperationException($"lab.sh info reports other server addresses than the tests expect:\n{info.StandardOutput}");
        }

        File.Exists(NatpunchDll).ShouldBeTrue($"{NatpunchDll} is missing; the test project references the CLI project");
        Certificate = TestCertificate.Create(ServerIp1);
        Server = StartBackground(ServerNamespace, "natpunch server",
            [DotnetHost, NatpunchDll, "server", "--listen", $"{ServerIp1}:{OurPort}", "--alt-address", ServerIp2, "--verbose",
             "--tls-cert", Certificate.CertificatePath, "--tls-key", Certificate.KeyPath, "--tls-listen", $"{ServerIp1}:{OurTlsPort}"]);
        await WaitListeningAsync(Server, [$"u {ServerIp1}:{OurPort}", $"u {ServerIp1}:{OurPort + 1}", $"u {ServerIp2}:{OurPort}", $"u {ServerIp2}:{OurPort + 1}",
            $"t {ServerIp1}:{OurPort}", $"t {ServerIp1}:{OurTlsPort}"]);
        Note($"natpunch server (pid {Server.Id}) in {ServerNamespace} on {ServerIp1} and {ServerIp2}, ports {OurPort} and {OurPort + 1}, "
            + $"TLS on every TCP port and on {ServerIp1}:{OurTlsPort} (self-signed, SHA-256 {Certificate.Sha256Hex})");

        // The upnp router's gateway: it learns its external address from our server with STUN, so after it.
        if (Requires.FindOnPath("miniupnpd") is not null)
        {
            ExternalProcess.Result upnp = await LabAsync(TimeSpan.FromSeconds(30), "upnp", "on", _prefix);
            Note($"lab.sh upnp on {_prefix}: {upnp.Output.Trim()}");
            if (upnp.ExitCode != 0)
            {
                _miniupnpdFailure = new InvalidOperationException($"lab.sh upnp on failed: {upnp}");
            }
        }

        if (Requires.FindOnPath("turnserver") is { } turnserver)
        {
            try
            {
                await StartCoturnAsync(turnserver);
            }
            catch (Exception ex)
            {
                _coturnFailure = ex;
                Note($"coturn failed: {ex.Message}");
            }
        }
    }

    private async Task StartCoturnAsync(string turnserver)
    {
        string port = CoturnPort.ToString(CultureInfo.InvariantCulture);
        string altPort = (CoturnPort + 1).ToString(CultureInfo.InvariantCulture);
        // As lab/verify.sh starts it: two listening IPs and an alternate port turn on RFC 5780.
        // Its pid file and database go to our temporary directory.
        Coturn = StartBackground(ServerNamespace, "coturn turnserver",
        [
            turnserver, "-n", "--no-auth", "--no-tls", "--no-dtls", "--no-cli",
            "--listening-ip", ServerIp1, "--listening-ip", ServerIp2,
            "--listening-port", port, "--alt-listening-port", altPort,
            "--log-file", "stdout", "--simple-log",
            "--pidfile", Path.Combine(_temp!.FullName, "turnserver.pid"),
            "--db", Path.Combine(_temp.FullName, "turndb"),
        ]);
        await WaitListeningAsync(Coturn, [$"u {ServerIp1}:{port}", $"u {ServerIp2}:{altPort}", $"t {ServerIp1}:{port}"]);
        Note($"coturn (pid {Coturn.Id}) in {ServerNamespace} on {ServerIp1} and {ServerIp2}, ports {port} and {altPort}");
    }

    private async Task TearDownAsync()
    {
        if (!TryBeginTearDown(out BackgroundProcess[] background))
        {
            return;
        }
        foreach (BackgroundProcess process in background)
        {
            await process.DisposeAsync();
        }
        if (_prefix is not null)
        {
            ExternalProcess.Result down = await LabAsync(DownTimeout, "down", _prefix);
            Note($"lab.sh down {_prefix}: {down.Output.Trim()}");
        }
        ReleaseSlot();
    }

    /// <summary>Only the first tear-down (disposal, exit or signal) runs: it takes the background processes.</summary>
    private bool TryBeginTearDown(out BackgroundProcess[] background)
    {
        lock (_lock)
        {
            background = [];
            if (_tornDown)
            {
                return false;
            }
            _tornDown = true;
            background = [.. _background];
            _background.Clear();
            return true;
        }
    }

    /// <summary>The test host is going away without disposing the fixture: kill and tear down synchronously.</summary>
    private void OnProcessExit(object? sender, EventArgs e) => TearDownNow();

    /// <summary>
    /// The test host is being terminated (SIGTERM, SIGHUP) or is exiting without disposing the
    /// fixture: kill and tear down synchronously, then let the signal take its default course.
    /// SIGINT is left to xunit, which cancels the tests and disposes the fixture. SIGKILL cannot be
    /// caught: the next run with this prefix removes what is left.
    /// </summary>
    private void TearDownNow()
    {
        if (!TryBeginTearDown(out BackgroundProcess[] background))
        {
            return;
        }
        foreach (BackgroundProcess process in background)
        {
            process.Kill();
        }
        if (_prefix is not null)
        {
            try
            {
                using Process? down = Process.Start("bash", [LabScript, "down", _prefix]);
                down?.WaitForExit(TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
        ReleaseSlot();
    }

    private void ReleaseSlot()
    {
        _slot?.Dispose();
        _slot = null;
        try
        {
            _temp?.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
        _temp = null;
        Certificate?.Dispose();
        Certificate = null;
    }

    /// <summary>
    /// The first lab prefix whose lock file this process can lock exclusively (flock on Linux,
    /// released by the kernel when the holder dies).
    /// </summary>
    private static string ClaimPrefix(out FileStream slot)
    {
        string[] candidates = Environment.GetEnvironmentVariable("NATPUNCH_LAB_PREFIX") is { Length: > 0 } chosen
            ? [chosen]
            : [.. Enumerable.Range(0, 10).Select(i => $"nplt{i}")];
        foreach (string prefix in candidates)
        {
            try
            {
                slot = new FileStream(Path.Combine(Path.GetTempPath(), $"natpunch-lab-{prefix}.lock"),
                    FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return prefix;
            }
            catch (IOException)
            {
                // Another live run has it.
            }
        }
        throw new InvalidOperationException($"every lab prefix is in use by another run: {string.Join(", ", candidates)}");
    }

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NatPunch.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"NatPunch.slnx not found above {AppContext.BaseDirectory}");
    }

    private static Dictionary<string, string> ParseInfo(string text)
    {
        var info = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                info[line[..equals]] = line[(equals + 1)..];
            }
        }
        return info;
    }

    private void Note(string line)
    {
        lock (_lock)
        {
            _setupLog.AppendLine(line);
        }
    }

    // ---- helpers for tests ----------------------------------------------------------------

    /// <summary>The dotnet host that runs natpunch.dll.</summary>
    public static string DotnetHost
    {
        get
        {
            if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
            {
                return host;
            }
            if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                return self;
            }
            return Requires.FindOnPath("dotnet") ?? "dotnet";
        }
    }

    private static string IpTool => Requires.FindOnPath("ip") ?? "ip";

    /// <summary>
    /// Runs <c>lab/lab.sh ARGS...</c> (PREFIX is not added). Never cancelled, only bounded by
    /// <paramref name="timeout"/>: setup, teardown and resetting a knob must run to the end.
    /// </summary>
    public Task<ExternalProcess.Result> LabAsync(TimeSpan timeout, params string[] arguments) =>
        ExternalProcess.RunAsync("bash", [LabScript, .. arguments], timeout, CancellationToken.None);

    /// <summary>Runs <paramref name="arguments"/> in namespace <paramref name="ns"/> of this lab and waits for it.</summary>
    public Task<ExternalProcess.Result> Exec(string ns, IEnumerable<string> arguments, TimeSpan timeout)
    {
        CheckOwnNamespace(ns);
        return ExternalProcess.RunAsync(IpTool, ["netns", "exec", ns, .. arguments], timeout, TestContext.Current.CancellationToken);
    }

    /// <summary>Runs <c>natpunch ARGS...</c> in namespace <paramref name="ns"/>.</summary>
    public Task<ExternalProcess.Result> Natpunch(string ns, IEnumerable<string> arguments, TimeSpan timeout) =>
        Exec(ns, [DotnetHost, NatpunchDll, .. arguments], timeout);

    /// <summary>
    /// Starts <paramref name="arguments"/> in namespace <paramref name="ns"/> in the background. It is
    /// killed (with its process tree) when the fixture is disposed, or earlier by disposing it.
    /// </summary>
    public BackgroundProcess StartBackground(string ns, IEnumerable<string> arguments) =>
        StartBackground(ns, string.Join(' ', arguments.Take(3)), arguments);

    private BackgroundProcess StartBackground(string ns, string name, IEnumerable<string> arguments)
    {
        CheckOwnNamespace(ns);
        lock (_lock)
        {
            if (_tornDown)
            {
                throw new InvalidOperationException("The lab has been torn down.");
            }
            BackgroundProcess process = BackgroundProcess.Start($"{name} in {ns}", IpTool, ["netns", "exec", ns, .. arguments]);
            _background.Add(process);
            return process;
        }
    }

    /// <summary>
    /// How to start <paramref name="arguments"/> in namespace <paramref name="ns"/> of this lab with all
    /// three standard streams redirected, for tests that feed and read the bytes themselves
    /// (<c>natpunch listen/connect</c>). The caller owns the process and must kill it; <c>lab.sh down</c>
    /// at teardown kills anything still running in the lab's namespaces anyway.
    /// </summary>
    public ProcessStartInfo NamespaceStartInfo(string ns, IEnumerable<string> arguments)
    {
        CheckOwnNamespace(ns);
        var start = new ProcessStartInfo(IpTool)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])["netns", "exec", ns, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // Each process its own identity and known-peers file, never the user's: tests that need one
        // kept across processes pass --identity and --known-peers.
        start.Environment["XDG_CONFIG_HOME"] = Directory.CreateTempSubdirectory("natpunch-config-").FullName;
        return start;
    }

    private void CheckOwnNamespace(string ns)
    {
        if (_prefix is null || !ns.StartsWith(_prefix + "-", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{ns}' is not a namespace of this lab ({_prefix ?? "not up"})", nameof(ns));
        }
    }

    /// <summary>Waits until every "u IP:PORT" / "t IP:PORT" listens in the server namespace (ss).</summary>
    private async Task WaitListeningAsync(BackgroundProcess process, string[] wanted)
    {
        var deadline = Stopwatch.StartNew();
        string missing = string.Join(", ", wanted);
        while (deadline.Elapsed < ServerStartTimeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{process.Name} exited at start:\n{process.Tail()}");
            }
            ExternalProcess.Result udp = await Exec(ServerNamespace, ["ss", "-Hlnu"], TimeSpan.FromSeconds(10));
            ExternalProcess.Result tcp = await Exec(ServerNamespace, ["ss", "-Hlnt"], TimeSpan.FromSeconds(10));
            HashSet<string> listening = [.. Listening(udp.StandardOutput, "u"), .. Listening(tcp.StandardOutput, "t")];
            string[] notYet = [.. wanted.Where(w => !listening.Contains(w))];
            if (notYet.Length == 0)
            {
                return;
            }
            missing = string.Join(", ", notYet);
            await Task.Delay(200);
        }
        throw new InvalidOperationException($"{process.Name} did not listen on {missing} within {ServerStartTimeout.TotalSeconds} s:\n{process.Tail()}");
    }

    private static IEnumerable<string> Listening(string ss, string protocol)
    {
        foreach (string line in ss.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (columns.Length >= 4)
            {
                yield return $"{protocol} {columns[3]}";
            }
        }
    }
}
