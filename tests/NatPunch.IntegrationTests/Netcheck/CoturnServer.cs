using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NatPunch.Stun;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary>
/// A coturn <c>turnserver</c> on loopback only: 127.0.0.1 and 127.0.0.2, a port below the
/// ephemeral range and the next one as the RFC 5780 alternate port, STUN only, its pid file and
/// database in a temporary directory. Killed (with its process tree) on dispose.
/// </summary>
public sealed class CoturnServer : IAsyncDisposable
{
    public static readonly IPAddress PrimaryAddress = IPAddress.Parse("127.0.0.1");
    public static readonly IPAddress AlternateAddress = IPAddress.Parse("127.0.0.2");

    private readonly Process _process;
    private readonly DirectoryInfo _directory;
    private readonly ConcurrentQueue<string> _log;

    private CoturnServer(Process process, DirectoryInfo directory, ConcurrentQueue<string> log, int port, bool rfc5780)
    {
        _process = process;
        _directory = directory;
        _log = log;
        Port = port;
        Rfc5780 = rfc5780;
    }

    public int Port { get; }

    public bool Rfc5780 { get; }

    public IPEndPoint Primary => new(PrimaryAddress, Port);

    /// <summary>The alternate IP and port, which OTHER-ADDRESS announces when RFC 5780 is on.</summary>
    public IPEndPoint Alternate => new(AlternateAddress, Port + 1);

    public string Log => string.Join('\n', _log);

    /// <param name="rfc5780">Two IPs and the alternate port (RFC 5780 on), or one IP with RFC 5780 off.</param>
    public static async Task<CoturnServer> StartAsync(bool rfc5780, CancellationToken cancellationToken)
    {
        string path = Requires.FindOnPath("turnserver") ?? throw new InvalidOperationException("turnserver is not installed.");
        Exception? last = null;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = FindFreePortPair();
            DirectoryInfo directory = Directory.CreateTempSubdirectory("natpunch-coturn-");
            var log = new ConcurrentQueue<string>();
            var start = new ProcessStartInfo(path)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string argument in new[]
                     {
                         "-n", "--no-auth", "--no-tls", "--no-dtls", "--stun-only", "--no-cli", "--simple-log",
                         "--log-file", "stdout", "--listening-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                         "--pidfile", Path.Combine(directory.FullName, "turnserver.pid"),
                         "--db", Path.Combine(directory.FullName, "turndb"),
                         "--listening-ip", PrimaryAddress.ToString(),
                     })
            {
                start.ArgumentList.Add(argument);
            }
            if (rfc5780)
            {
                start.ArgumentList.Add("--listening-ip");
                start.ArgumentList.Add(AlternateAddress.ToString());
                start.ArgumentList.Add("--alt-listening-port");
                start.ArgumentList.Add((port + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                start.ArgumentList.Add("--no-rfc5780");
            }

            var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new CoturnServer(process, directory, log, port, rfc5780);
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
            LocalEndPoint = new IPEndPoint(PrimaryAddress, 0),
            Retransmission = new StunRetransmissionOptions { InitialRto = TimeSpan.FromMilliseconds(100), MaxSends = 2, FinalWaitMultiplier = 2 },
        };
        await using var client = new StunClient(options);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"turnserver exited with code {_process.ExitCode}");
            }
            try
            {
                await client.BindingAsync(Primary, cancellationToken);
                if (Rfc5780)
                {
                    await client.BindingAsync(Alternate, cancellationToken);
                }
                return;
            }
            catch (StunTransactionTimeoutException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    /// <summary>A port P such that P and P+1 are free for UDP and TCP on both loopback addresses.</summary>
    private static int FindFreePortPair()
    {
        for (int i = 0; i < 200; i++)
        {
            // Below Linux's ephemeral range (32768–60999), away from 3478 and the other tests' ports.
            int port = Random.Shared.Next(21000, 30000);
            if (IsFree(port) && IsFree(port + 1))
            {
                return port;
            }
        }
        throw new InvalidOperationException("No free port pair found.");
    }

    private static bool IsFree(int port)
    {
        foreach (IPAddress address in new[] { PrimaryAddress, AlternateAddress })
        {
            foreach ((SocketType type, ProtocolType protocol) in new[] { (SocketType.Dgram, ProtocolType.Udp), (SocketType.Stream, ProtocolType.Tcp) })
            {
                using var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
                try
                {
                    socket.Bind(new IPEndPoint(address, port));
                }
                catch (SocketException)
                {
                    return false;
                }
            }
        }
        return true;
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
