using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NatPunch.Stun;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Relay;

/// <summary>coturn's <c>turnserver</c> as a TURN relay on 127.0.0.1 with one long-term user; killed on dispose.</summary>
public sealed class CoturnRelayServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _directory;
    private readonly ConcurrentQueue<string> _log;

    private CoturnRelayServer(Process process, DirectoryInfo directory, ConcurrentQueue<string> log, int port)
    {
        _process = process;
        _directory = directory;
        _log = log;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    public IPEndPoint EndPoint { get; }

    public string Log => string.Join('\n', _log);

    public static async Task<CoturnRelayServer> StartAsync(string user, string password, string realm, CancellationToken cancellationToken)
    {
        string path = Requires.FindOnPath("turnserver") ?? throw new InvalidOperationException("turnserver is not installed.");
        Exception? last = null;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = Random.Shared.Next(21000, 30000);
            DirectoryInfo directory = Directory.CreateTempSubdirectory("natpunch-coturn-relay-");
            var log = new ConcurrentQueue<string>();
            var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string argument in new[]
                     {
                         "--lt-cred-mech", "--user", $"{user}:{password}", "--realm", realm, "--allow-loopback-peers",
                         "--no-tls", "--no-dtls", "--no-cli", "--simple-log", "--log-file", "stdout",
                         "--listening-ip", "127.0.0.1", "--listening-port", port.ToString(CultureInfo.InvariantCulture),
                         "--pidfile", Path.Combine(directory.FullName, "turnserver.pid"),
                         "--db", Path.Combine(directory.FullName, "turndb"),
                     })
            {
                start.ArgumentList.Add(argument);
            }
            var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new CoturnRelayServer(process, directory, log, port);
            try
            {
                await server.WaitUntilAnsweringAsync(cancellationToken);
                return server;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                last = new InvalidOperationException($"coturn did not start on port {port}: {ex.Message}\n{server.Log}", ex);
                await server.DisposeAsync();
            }
        }
        throw last!;
    }

    private async Task WaitUntilAnsweringAsync(CancellationToken cancellationToken)
    {
        var options = new StunClientOptions
        {
            LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Retransmission = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxSends = 2, FinalWaitMultiplier = 2 },
        };
        await using var client = new StunClient(options);
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"turnserver exited with code {_process.ExitCode}");
            }
            try
            {
                await client.BindingAsync(EndPoint, cancellationToken);
                // Give the TCP listener the same chance.
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(EndPoint, cancellationToken);
                return;
            }
            catch (Exception e) when (e is StunTransactionTimeoutException or SocketException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
        }
        _process.Dispose();
        try
        {
            _directory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
