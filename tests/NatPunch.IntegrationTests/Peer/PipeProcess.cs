using System.Diagnostics;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>Runs <c>natpunch listen/connect</c> as a process: bytes into its stdin, bytes out of its stdout.</summary>
internal static class PipeProcess
{
    public sealed record Result(int ExitCode, byte[] Output, string Error);

    public static async Task<Result> RunAsync(byte[] input, TimeSpan limit, CancellationToken cancellationToken, params string[] arguments)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "natpunch.dll");
        File.Exists(dll).ShouldBeTrue($"{dll} is missing; the test project references the CLI project");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = new MemoryStream();
        Task copyOut = process.StandardOutput.BaseStream.CopyToAsync(output, cancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(cancellationToken);
        Task copyIn = Task.Run(async () =>
        {
            try
            {
                await process.StandardInput.BaseStream.WriteAsync(input, cancellationToken);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The process exited early (an error we assert on): its stdin is gone.
            }
        }, cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException($"natpunch {string.Join(' ', arguments)} ran longer than {limit}; stderr:\n{await error}");
        }
        await copyOut;
        await copyIn;
        return new Result(process.ExitCode, output.ToArray(), await error);
    }
}
