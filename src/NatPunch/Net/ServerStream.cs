using System.Net.Sockets;

namespace NatPunch.Net;

/// <summary>An open connection to the server: the socket (direct, or to the proxy) and the bytes to use, plain or TLS over it.</summary>
internal sealed class ServerStream(Socket socket, Stream stream, ServerRoute route) : IAsyncDisposable
{
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
