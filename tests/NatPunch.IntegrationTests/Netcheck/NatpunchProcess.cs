using System.Diagnostics;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary>Runs the built <c>natpunch</c> CLI (natpunch.dll next to the test assembly) as a separate process.</summary>
internal static class NatpunchProcess
{
    public sealed record Result(int ExitCode, string Output, string Error, TimeSpan Elapsed);

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "natpunch.dll");

    /// <summary>How to start <c>dotnet natpunch.dll ARGUMENTS</c> with stdout and stderr redirected (callers may redirect stdin too).</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        File.Exists(DllPath).ShouldBeTrue($"{DllPath} is missing; the test project references the CLI project");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(DllPath);
        foreach (string argument in arguments)
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

    public static async Task<Result> RunAsync(TimeSpan limit, CancellationToken cancellationToken, params string[] arguments)
    {
        ProcessStartInfo start = StartInfo(arguments);

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"natpunch {string.Join(' ', arguments)} ran longer than {limit}.");
        }
        return new Result(process.ExitCode, await output, await error, clock.Elapsed);
    }
}
