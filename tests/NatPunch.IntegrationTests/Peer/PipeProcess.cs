using System.Diagnostics;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>Runs <c>natpunch listen/connect</c> as a process: bytes into its stdin, bytes out of its stdout.</summary>
internal static class PipeProcess
{
    public sealed record Result(int ExitCode, byte[] Output, string Error);

    public static async Task<Result> RunAsync(byte[] input, TimeSpan limit, CancellationToken cancellationToken, params string[] arguments)
    {
        ProcessStartInfo start = Netcheck.NatpunchProcess.StartInfo(arguments);
        start.RedirectStandardInput = true;
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
