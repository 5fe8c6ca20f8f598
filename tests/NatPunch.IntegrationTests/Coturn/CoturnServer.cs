using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NatPunch.Stun;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Coturn;

/// <summary>
/// A coturn <c>turnserver</c> on loopback only, as a STUN server or a TURN relay
/// (<see cref="CoturnSettings"/>): a free port below the ephemeral range (and the next one, the
/// RFC 5780 alternate port), UDP and TCP, its pid file and database in a temporary directory.
/// Ready when it answers a Binding request and a TCP connect. Killed (with its process tree) on dispose.
/// </summary>
public sealed class CoturnServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _directory;
    private readonly ConcurrentQueue<string> _log;

    private CoturnServer(Process process, DirectoryInfo directory, ConcurrentQueue<string> log, int port, CoturnSettings settings)
    {
        _process = process;
        _directory = directory;
        _log = log;
        Port = port;
        Settings = settings;
    }

    public CoturnSettings Settings { get; }

    public int Port { get; }

    public bool Rfc5780 => Settings.Rfc5780;

    /// <summary>127.0.0.1:PORT, where STUN and TURN are served over UDP and TCP.</summary>
    public IPEndPoint Primary => new(CoturnSettings.PrimaryAddress, Port);

    /// <summary>The alternate IP and port, which OTHER-ADDRESS announces when RFC 5780 is on.</summary>
    public IPEndPoint Alternate => new(CoturnSettings.AlternateAddress, Port + 1);

    public string Log => string.Join('\n', _log);

    public static async Task<CoturnServer> StartAsync(CoturnSettings settings, CancellationToken cancellationToken)
    {
        string path = Requires.FindOnPath("turnserver") ?? throw new InvalidOperationException("turnserver is not installed.");
        Exception? last = null;
        // Another process may take the port between the check and coturn's bind: try a few.
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = FindFreePortPair(settings.ListeningAddresses);
            DirectoryInfo directory = Directory.CreateTempSubdirectory("natpunch-coturn-");
            var log = new ConcurrentQueue<string>();
            var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string argument in settings.Arguments(port, directory.FullName))
            {
                start.ArgumentList.Add(argument);
            }
            var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new CoturnServer(process, directory, log, port, settings);
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
            LocalEndPoint = new IPEndPoint(CoturnSettings.PrimaryAddress, 0),
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
                await client.BindingAsync(Primary, cancellationToken);
                if (Rfc5780)
                {
                    await client.BindingAsync(Alternate, cancellationToken);
                }
                // UDP answering does not mean the TCP listener is up yet.
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(Primary, cancellationToken);
                return;
            }
            catch (Exception e) when (e is StunTransactionTimeoutException or SocketException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    /// <summary>A port P such that P and P+1 are free for UDP and TCP on every address coturn will listen on.</summary>
    private static int FindFreePortPair(IReadOnlyList<IPAddress> addresses)
    {
        for (int i = 0; i < 200; i++)
        {
            // Below Linux's ephemeral range (32768–60999), away from 3478 and the other tests' ports.
            int port = Random.Shared.Next(21000, 30000);
            if (IsFree(port, addresses) && IsFree(port + 1, addresses))
            {
                return port;
            }
        }
        throw new InvalidOperationException("No free port pair found.");
    }

    private static bool IsFree(int port, IReadOnlyList<IPAddress> addresses)
    {
        foreach (IPAddress address in addresses)
        {
            foreach ((SocketType type, ProtocolType protocol) in new[] { (SocketType.Dgram, ProtocolType.Udp), (SocketType.Stream, ProtocolType.Tcp) })
            {
                using var socket = new Socket(address.AddressFamily, type, protocol);
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
