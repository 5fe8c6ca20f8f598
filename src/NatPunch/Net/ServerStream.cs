using System.Net.Sockets;

namespace NatPunch.Net;

/// <summary>An open connection to the server: the socket (direct, or to the proxy) and the bytes to use, plain or TLS over it.</summary>
internal sealed class ServerStream(Socket socket, Stream stream, ServerRoute route, string? unverified = null) : IAsyncDisposable
{
    /// <summary>Over opportunistic TLS: why the server's certificate did not verify; null when it did (or no TLS).</summary>
    public string? Unverified { get; } = unverified;

    public Socket Socket { get; } = socket;

    /// <summary>What to read and write: a <see cref="NetworkStream"/>, or TLS over it.</summary>
    public Stream Stream { get; } = stream;

    /// <summary>The way this connection took.</summary>
    public ServerRoute Route { get; } = route;

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync().ConfigureAwait(false);
        Socket.Dispose();
    }
}
