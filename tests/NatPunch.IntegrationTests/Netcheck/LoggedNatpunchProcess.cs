using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary>A long-running <c>natpunch</c> process (a server) whose stderr, the log, is collected line by line.</summary>
internal sealed class LoggedNatpunchProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _gate = new(); // guards _lines and _waiting
    private (string Text, TaskCompletionSource<string> Seen)? _waiting;

    public LoggedNatpunchProcess(params string[] arguments)
    {
        _process = Process.Start(NatpunchProcess.StartInfo(arguments))!;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { } line)
            {
                return;
            }
            lock (_gate)
            {
                _lines.Add(line);
                if (_waiting is { } waiting && line.Contains(waiting.Text, StringComparison.Ordinal))
                {
                    waiting.Seen.TrySetResult(line);
                }
            }
        };
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public string Log
    {
        get
        {
            lock (_gate)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>Waits up to 30 s for a log line containing <paramref name="text"/>; fails if the process exits first.</summary>
    public async Task<string> WaitForLineAsync(string text, CancellationToken cancellationToken)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_lines.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
            {
                return line;
            }
            _waiting = (text, seen);
        }
        Task exited = _process.WaitForExitAsync(cancellationToken);
        Task first = await Task.WhenAny(seen.Task, exited).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        return first == seen.Task ? await seen.Task : throw new InvalidOperationException($"the process exited before logging '{text}':\n{Log}");
    }

    /// <summary>Kills the process (no clean shutdown) and waits for it, which also flushes the log reader.</summary>
    public void Stop()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Stop();
        }
        _process.Dispose();
    }

    /// <summary>A loopback port free at the moment (UDP, or TCP), for a server that must come back on the same one or a listener a test names.</summary>
    public static int FreePort(ProtocolType protocol = ProtocolType.Udp)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, protocol == ProtocolType.Tcp ? SocketType.Stream : SocketType.Dgram, protocol);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
