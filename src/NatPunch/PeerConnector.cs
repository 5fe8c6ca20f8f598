namespace NatPunch;

/// <summary>
/// One connection in one call: a <see cref="PeerNode"/> made for it, which the connection closes
/// with itself. A program that talks to several peers keeps one <see cref="PeerNode"/> instead.
/// </summary>
public static class PeerConnector
{
    /// <summary>Registers <see cref="PeerOptions.Name"/> and waits for one peer to connect.</summary>
    public static async Task<PeerConnection> ListenAsync(PeerOptions options, IProgress<ConnectionProgress>? progress, CancellationToken cancellationToken)
    {
        PeerNode node = await PeerNode.StartAsync(options, progress, accept: true, acceptLimit: 1, cancellationToken).ConfigureAwait(false);
        return await OwnedByConnectionAsync(node, () => node.AcceptAsync(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Connects to the peer registered as <paramref name="peer"/>, waiting for it up to the timeout.</summary>
    public static async Task<PeerConnection> ConnectAsync(PeerOptions options, string peer, IProgress<ConnectionProgress>? progress, CancellationToken cancellationToken)
    {
        PeerNode node = await PeerNode.StartAsync(options, progress, cancellationToken).ConfigureAwait(false);
        return await OwnedByConnectionAsync(node, () => node.ConnectAsync(peer, cancellationToken)).ConfigureAwait(false);
    }

    private static async Task<PeerConnection> OwnedByConnectionAsync(PeerNode node, Func<Task<PeerConnection>> connect)
    {
        try
        {
            PeerConnection connection = await connect().ConfigureAwait(false);
            connection.OwnsNode = true;
            return connection;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
