using System.Security.Cryptography;
using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>Test application on a <see cref="ReliableStream"/>: sends N pseudo-random bytes and reads to the end, hashing both.</summary>
public static class StreamPump
{
    public sealed record Result(byte[] SentHash, byte[] ReceivedHash, long BytesReceived);

    public static async Task<Result> RunAsync(ReliableStream stream, long bytesToSend, int seed, CancellationToken cancellationToken)
    {
        Task<byte[]> send = SendAsync(stream, bytesToSend, seed, cancellationToken);
        (byte[] receivedHash, long received) = await ReceiveAsync(stream, cancellationToken);
        return new Result(await send, receivedHash, received);
    }

    /// <summary>
    /// Runs both ends at once and waits for both. When either fails, the exception names every
    /// end that failed: the first failure to be awaited is often only the consequence (a peer
    /// that stopped answering) of the other's.
    /// </summary>
    public static async Task<(Result Left, Result Right)> RunBothAsync(
        ReliableStream left, long leftBytes, ReliableStream right, long rightBytes, CancellationToken cancellationToken)
    {
        Task<Result> leftRun = RunAsync(left, leftBytes, seed: 10, cancellationToken);
        Task<Result> rightRun = RunAsync(right, rightBytes, seed: 20, cancellationToken);
        try
        {
            await Task.WhenAll(leftRun, rightRun);
        }
        catch (Exception) when (leftRun.IsFaulted || rightRun.IsFaulted)
        {
            string Describe(string name, Task run) => $"{name}: {(run.IsFaulted ? run.Exception!.InnerException!.Message : run.Status.ToString())}";
            throw new AggregateException($"{Describe("left", leftRun)}; {Describe("right", rightRun)}",
                ((Task[])[leftRun, rightRun]).Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!));
        }
        return (await leftRun, await rightRun);
    }

    public static async Task<byte[]> SendAsync(ReliableStream stream, long bytesToSend, int seed, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var random = new Random(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunk = new byte[64 * 1024];
        for (long sent = 0; sent < bytesToSend;)
        {
            int length = (int)Math.Min(chunk.Length - random.Next(1000), bytesToSend - sent); // uneven writes
            random.NextBytes(chunk.AsSpan(0, length));
            hash.AppendData(chunk.AsSpan(0, length));
            await stream.WriteAsync(chunk.AsMemory(0, length), cancellationToken);
            sent += length;
        }
        await stream.CompleteWritesAsync(cancellationToken);
        return hash.GetHashAndReset();
    }

    public static async Task<(byte[] Hash, long Bytes)> ReceiveAsync(ReliableStream stream, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer.AsSpan(0, read));
            total += read;
        }
        (await stream.ReadAsync(buffer, cancellationToken)).ShouldBe(0); // end of stream stays the end
        return (hash.GetHashAndReset(), total);
    }
}
