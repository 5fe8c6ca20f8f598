using System.Diagnostics;
using System.Net;

namespace NatPunch.Testing;

/// <summary>
/// Debian's squid as an HTTP proxy for tests: CONNECT only to the given ports, optionally with a
/// Basic user, no cache, its files in a directory of its own. <paramref name="wrapper"/> runs it
/// elsewhere (<c>ip netns exec NAME</c>).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SquidProxy : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private SquidProxy(Process process, string directory, IPEndPoint endPoint)
    {
        _process = process;
        _directory = directory;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>squid's access log: one line per request (CONNECT host:port and the status it got).</summary>
    public string AccessLog => File.Exists(Path.Combine(_directory, "access.log")) ? File.ReadAllText(Path.Combine(_directory, "access.log")) : "";

    public static async Task<SquidProxy> StartAsync(IPEndPoint listen, IReadOnlyList<int> connectPorts, (string User, string Password)? user = null,
        string[]? wrapper = null)
    {
        Requires.Tool("squid");
        string directory = Path.Combine(Path.GetTempPath(), "natpunch-squid-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        // squid drops to the 'proxy' user: its files must be writable and readable by it.
        File.SetUnixFileMode(directory, (UnixFileMode)0x1FF);
        var config = new List<string>
        {
            $"http_port {(listen.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString())}:{listen.Port}",
            $"pid_filename {directory}/squid.pid",
            $"cache_log {directory}/cache.log",
            $"access_log stdio:{directory}/access.log",
            "cache deny all",
            "cache_mem 8 MB",
            $"coredump_dir {directory}",
            "shutdown_lifetime 0 seconds",
            $"acl allowed_ports port {string.Join(' ', connectPorts)}",
            "http_access deny CONNECT !allowed_ports",
        };
        if (user is { } basic)
        {
            Requires.Tool("openssl");
            ExternalProcess.Result hash = await ExternalProcess.RunAsync("openssl", ["passwd", "-1", basic.Password], TimeSpan.FromSeconds(10));
            hash.ExitCode.ShouldBe(0, hash.ToString());
            string passwords = Path.Combine(directory, "passwd");
            File.WriteAllText(passwords, $"{basic.User}:{hash.StandardOutput.Trim()}\n");
            File.SetUnixFileMode(passwords, (UnixFileMode)0x1A4);
            config.Add($"auth_param basic program /usr/lib/squid/basic_ncsa_auth {passwords}");
            config.Add("acl authenticated proxy_auth REQUIRED");
            config.Add("http_access allow authenticated");
        }
        else
        {
            config.Add("http_access allow all");
        }
        config.Add("http_access deny all");
        string configPath = Path.Combine(directory, "squid.conf");
        File.WriteAllLines(configPath, config);
        string[] command = [.. wrapper ?? [], "squid", "-N", "-f", configPath];
        var info = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in command[1..])
        {
            info.ArgumentList.Add(argument);
        }
        Process process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var proxy = new SquidProxy(process, directory, listen);
        string log = Path.Combine(directory, "cache.log");
        var started = Stopwatch.StartNew();
        while (!(File.Exists(log) && File.ReadAllText(log).Contains("Accepting HTTP Socket connections", StringComparison.Ordinal)))
        {
            if (process.HasExited || started.Elapsed > TimeSpan.FromSeconds(20))
            {
                string why = File.Exists(log) ? File.ReadAllText(log) : "(no log)";
                await proxy.DisposeAsync();
                throw new InvalidOperationException($"squid did not start:\n{why}");
            }
            await Task.Delay(100);
        }
        return proxy;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
