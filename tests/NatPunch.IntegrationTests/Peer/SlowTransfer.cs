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

    public static async Task<byte[]> ReadAllAsync(PeerConnection connection, CancellationToken ct)
    {
        using var all = new MemoryStream();
        await connection.Stream.CopyToAsync(all, ct);
        return all.ToArray();
    }
}
