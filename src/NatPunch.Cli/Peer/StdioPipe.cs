namespace NatPunch.Cli.Peer;

/// <summary>
/// Copies standard input to the peer and the peer's bytes to standard output at the same time.
/// At the end of input it sends end-of-stream; it finishes once the peer's end-of-stream has
/// arrived and every byte we sent has been acknowledged — a half-sent stream is never reported as sent.
/// </summary>
internal static class StdioPipe
{
    private const int BufferSize = 64 * 1024;

    public static async Task<int> RunAsync(PeerConnection connection, ProgressPrinter printer, CancellationToken cancellationToken)
    {
        NatPunch.Streams.ReliableStream stream = connection.Stream;
        await using Stream input = Console.OpenStandardInput();
        await using Stream output = Console.OpenStandardOutput();
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long sent = 0, received = 0;
        Task upload = Task.Run(async () =>
        {
            byte[] buffer = new byte[BufferSize];
            int read;
            while ((read = await input.ReadAsync(buffer, failed.Token)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, read), failed.Token);
                Interlocked.Add(ref sent, read);
            }
            await stream.CompleteWritesAsync(failed.Token);
        }, failed.Token);
        Task download = Task.Run(async () =>
        {
            byte[] buffer = new byte[BufferSize];
            int read;
            while ((read = await stream.ReadAsync(buffer, failed.Token)) > 0)
            {
                await output.WriteAsync(buffer.AsMemory(0, read), failed.Token);
                Interlocked.Add(ref received, read);
            }
            await output.FlushAsync(failed.Token);
        }, failed.Token);
        try
        {
            // Whichever direction fails first ends the other too.
            Task first = await Task.WhenAny(upload, download);
            if (first.IsFaulted)
            {
                failed.Cancel();
            }
            await Task.WhenAll(upload, download);
            printer.Closed(Interlocked.Read(ref sent), Interlocked.Read(ref received), await StatisticsOf(stream));
            return 0;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            Exception reason = upload.Exception?.InnerException ?? download.Exception?.InnerException ?? e;
            printer.Error(cancellationToken.IsCancellationRequested ? "interrupted" : $"the session ended early: {reason.Message}");
            printer.Closed(Interlocked.Read(ref sent), Interlocked.Read(ref received), await StatisticsOf(stream));
            return 1;
        }
    }

    /// <summary>The stream's counters for the closing line, or null if its loop has ended (a reset stream).</summary>
    private static async Task<NatPunch.Streams.ReliableStreamStatistics?> StatisticsOf(NatPunch.Streams.ReliableStream stream)
    {
        try
        {
            return await stream.GetStatisticsAsync().WaitAsync(TimeSpan.FromSeconds(1));
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException or TimeoutException or OperationCanceledException)
        {
            return null;
        }
    }
}
