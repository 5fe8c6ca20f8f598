using System.Collections.Concurrent;
using System.Diagnostics;

namespace NatPunch.LabTests.Lab;

/// <summary>
/// A long-running process (a server) started by the lab, its standard output and error captured
/// line by line. Disposing kills it with its whole process tree and waits for it to end.
/// </summary>
public sealed class BackgroundProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private int _disposed;

    private BackgroundProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>What it is, for messages ("natpunch server in lt0-srv").</summary>
    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything it printed so far, stdout and stderr interleaved as they came.</summary>
    public string Log => string.Join('\n', _log);

    /// <summary>The last <paramref name="lines"/> lines of <see cref="Log"/>.</summary>
    public string Tail(int lines = 40)
    {
        string[] all = [.. _log];
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public static BackgroundProcess Start(string name, string fileName, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        var process = new Process { StartInfo = start };
        var background = new BackgroundProcess(name, process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { background._log.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { background._log.Enqueue(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return background;
    }

    /// <summary>Kills the process and its children now, without waiting (safe from a ProcessExit handler).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Kill();
        try
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
        }
        _process.Dispose();
    }
}
