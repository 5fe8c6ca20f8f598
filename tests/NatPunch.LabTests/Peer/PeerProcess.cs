using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// One <c>natpunch listen</c> or <c>natpunch connect</c> running in a lab namespace: a file (or
/// nothing) fed into its standard input, optionally at a limited rate; its standard output written
/// to a file; its standard error read line by line, each line stamped with the time it arrived and
/// parsed as a <c>--json</c> event. Disposing kills it (whole process tree) if it still runs.
/// </summary>
public sealed class PeerProcess : IAsyncDisposable
{
    private const int ChunkSize = 64 * 1024;

    private readonly Process _process;
    private readonly Stopwatch _clock;
    // Guards _lines and _events (the stderr reader adds, tests read).
    private readonly Lock _lock = new();
    private readonly List<string> _lines = [];
    private readonly List<PeerEvent> _events = [];
    private readonly Task _stdin;
    private readonly Task _stdout;
    private readonly Task _stderr;
    private readonly CancellationTokenSource _stop = new();
    private TimeSpan? _exitedAt;

    private PeerProcess(string name, Process process, Stopwatch clock, string? input, long bytesPerSecond, string output)
    {
        Name = name;
        _process = process;
        _clock = clock;
        StartedAt = clock.Elapsed;
        OutputFile = output;
        _stdin = Task.Run(() => FeedAsync(input, bytesPerSecond));
        _stdout = Task.Run(DrainAsync);
        _stderr = Task.Run(ReadErrorsAsync);
    }

    /// <summary>"listen in nplt0-open1" and the like, for messages.</summary>
    public string Name { get; }

    public string OutputFile { get; }

    /// <summary>On the clock shared by both ends of a run.</summary>
    public TimeSpan StartedAt { get; }

    /// <summary>When the process was seen to exit, on the shared clock.</summary>
    public TimeSpan? ExitedAt => _exitedAt;

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>
    /// Starts <c>natpunch ARGS</c> in <paramref name="ns"/>.
    /// </summary>
    /// <param name="input">File copied to standard input, then closed; null closes it at once (empty input).</param>
    /// <param name="bytesPerSecond">Feed rate of the input; 0 = as fast as the process takes it.</param>
    /// <param name="output">File that receives standard output.</param>
    /// <param name="clock">The clock both ends of a run are timed with.</param>
    public static PeerProcess Start(LabFixture lab, string ns, IEnumerable<string> arguments, string? input, long bytesPerSecond, string output, Stopwatch clock)
    {
        string[] args = [.. arguments];
        ProcessStartInfo start = lab.NamespaceStartInfo(ns, [LabFixture.DotnetHost, LabFixture.NatpunchDll, .. args]);
        var process = new Process { StartInfo = start };
        process.Start();
        return new PeerProcess($"{args[0]} in {ns}", process, clock, input, bytesPerSecond, output);
    }

    /// <summary>Every line of standard error so far.</summary>
    public string Errors
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>The JSON events so far, in order.</summary>
    public IReadOnlyList<PeerEvent> Events
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<PeerEvent> EventsNamed(string name) => [.. Events.Where(e => e.Name == name)];

    /// <summary>Waits for the <paramref name="occurrence"/>-th event called <paramref name="name"/> (1 = the first); null if the time ran out or the process ended without it.</summary>
    public async Task<PeerEvent?> WaitForEventAsync(string name, TimeSpan timeout, int occurrence = 1)
    {
        var limit = Stopwatch.StartNew();
        while (true)
        {
            IReadOnlyList<PeerEvent> found = EventsNamed(name);
            if (found.Count >= occurrence)
            {
                return found[occurrence - 1];
            }
            if (limit.Elapsed > timeout || _stderr.IsCompleted)
            {
                return null;
            }
            await Task.Delay(20);
        }
    }

    /// <summary>Waits for the process to exit and its streams to drain; false if it still runs after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        _exitedAt ??= _clock.Elapsed;
        // The readers end at end of file; give them a moment.
        await Task.WhenAny(Task.WhenAll(_stdout, _stderr), Task.Delay(TimeSpan.FromSeconds(10)));
        return true;
    }

    public void Kill()
    {
        _stop.Cancel();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>Exit code, stderr, for a failure message.</summary>
    public string Describe() =>
        $"--- {Name}: {(HasExited ? $"exit {ExitCode}" : "still running")}, started at {Ms(StartedAt)}"
        + (ExitedAt is { } at ? $", exited at {Ms(at)}" : "") + $"\n{Errors}";

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";

    private async Task FeedAsync(string? input, long bytesPerSecond)
    {
        Stream stdin = _process.StandardInput.BaseStream;
        try
        {
            if (input is not null)
            {
                await using FileStream file = File.OpenRead(input);
                byte[] buffer = new byte[ChunkSize];
                var paced = Stopwatch.StartNew();
                long written = 0;
                int read;
                while ((read = await file.ReadAsync(buffer, _stop.Token)) > 0)
                {
                    await stdin.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                    await stdin.FlushAsync(_stop.Token);
                    written += read;
                    if (bytesPerSecond > 0)
                    {
                        TimeSpan due = TimeSpan.FromSeconds((double)written / bytesPerSecond);
                        if (due > paced.Elapsed)
                        {
                            await Task.Delay(due - paced.Elapsed, _stop.Token);
                        }
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The process exited (a failure the test reports) or was killed.
        }
        finally
        {
            try
            {
                stdin.Close();
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task DrainAsync()
    {
        await using FileStream file = File.Create(OutputFile);
        try
        {
            await _process.StandardOutput.BaseStream.CopyToAsync(file, ChunkSize);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }

    private async Task ReadErrorsAsync()
    {
        try
        {
            while (await _process.StandardError.ReadLineAsync() is { } line)
            {
                TimeSpan at = _clock.Elapsed;
                PeerEvent? parsed = PeerEvent.TryParse(line, at);
                lock (_lock)
                {
                    _lines.Add($"[{Ms(at)}] {line}");
                    if (parsed is not null)
                    {
                        _events.Add(parsed);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
        }
        await Task.WhenAny(Task.WhenAll(_stdin, _stdout, _stderr), Task.Delay(TimeSpan.FromSeconds(10)));
        _process.Dispose();
        _stop.Dispose();
    }
}

/// <summary>One <c>--json</c> line of listen/connect, with the time it was read.</summary>
public sealed record PeerEvent(string Name, JsonElement Json, TimeSpan At)
{
    public static PeerEvent? TryParse(string line, TimeSpan at)
    {
        if (!line.StartsWith('{'))
        {
            return null;
        }
        try
        {
            using JsonDocument document = JsonDocument.Parse(line);
            JsonElement root = document.RootElement.Clone();
            return root.TryGetProperty("event", out JsonElement name) && name.ValueKind == JsonValueKind.String
                ? new PeerEvent(name.GetString()!, root, at)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public string? String(string key) => Json.TryGetProperty(key, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public long? Long(string key) => Json.TryGetProperty(key, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;

    public override string ToString() => Json.GetRawText();
}
