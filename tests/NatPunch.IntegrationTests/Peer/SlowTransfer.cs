using System.Security.Cryptography;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>A transfer slow enough that something (a server restart) can happen in its middle.</summary>
internal static class SlowTransfer
{
    /// <summary>Writes in 50 KB pieces, 20 a second, so the restart falls in the middle; <paramref name="halfway"/> is set at half.</summary>
    public static async Task WriteSlowlyAsync(PeerConnection connection, byte[] data, TaskCompletionSource? halfway, CancellationToken ct)
    {
        const int Piece = 50_000;
        for (int offset = 0; offset < data.Length; offset += Piece)
        {
            if (offset >= data.Length / 2)
            {
                halfway?.TrySetResult();
            }
            await connection.Stream.WriteAsync(data.AsMemory(offset, Math.Min(Piece, data.Length - offset)), ct);
            await Task.Delay(50, ct);
        }
        await connection.Stream.CompleteWritesAsync(ct);
    }

    /// <summary>
    /// ~2 MB each way at once, slowly; <paramref name="midway"/> runs once alice has written half
    /// (restart a server, say). Both ends must then receive exactly what the other sent;
    /// <paramref name="why"/> adds context (a server's log) to a failure.
    /// </summary>
    public static async Task BothWaysAcrossAsync(PeerConnection alice, PeerConnection bob, Func<Task> midway, CancellationToken ct, Func<string>? why = null)
    {
        byte[] toBob = RandomNumberGenerator.GetBytes(2_000_000);
        byte[] toAlice = RandomNumberGenerator.GetBytes(2_000_000);
        Task<byte[]> bobReads = ReadAllAsync(bob, ct);
        Task<byte[]> aliceReads = ReadAllAsync(alice, ct);
        var halfway = new TaskCompletionSource();
        Task writing = Task.WhenAll(WriteSlowlyAsync(alice, toBob, halfway, ct), WriteSlowlyAsync(bob, toAlice, null, ct));

        await halfway.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        await midway();

        await writing.WaitAsync(TimeSpan.FromSeconds(90), ct);
        SHA256.HashData(await bobReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toBob), why?.Invoke());
        SHA256.HashData(await aliceReads.WaitAsync(TimeSpan.FromSeconds(30), ct)).ShouldBe(SHA256.HashData(toAlice), why?.Invoke());
    }

    public static async Task<byte[]> ReadAllAsync(PeerConnection connection, CancellationToken ct)
    {
        using var all = new MemoryStream();
        await connection.Stream.CopyToAsync(all, ct);
        return all.ToArray();
    }
}
