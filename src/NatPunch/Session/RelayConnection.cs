using System.Net;
using System.Net.Sockets;
using NatPunch.Net;
using NatPunch.Relay;

namespace NatPunch.Session;

/// <summary>
/// The way to the TURN server of one <see cref="RelayAttempt"/>. Over UDP it shares the link's socket,
/// so the allocation belongs to the very address the host candidate has (RFC 8445 §5.1.1.2); over TCP
/// it has its own connection, with RFC 8489 §6.2.2 framing: plain or TLS, direct or through an HTTP
/// proxy, as <see cref="RelayServer.TcpRoute"/> says. <see cref="SendRaw"/> (ChannelData on the
/// data path) may be called from any thread.
/// </summary>
internal sealed class RelayConnection : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly SocketAddress _serverAddress;
    private readonly object _tcpWrite = new();
    private ServerStream? _tcp;
    private Task _reader = Task.CompletedTask;
    private readonly CancellationTokenSource _stopping = new();

    public RelayConnection(RelayAttempt attempt, Socket udpSocket)
    {
        Attempt = attempt;
        _udp = udpSocket;
        // A dual-stack socket reaches IPv4 servers through IPv4-mapped IPv6 addresses.
        IPEndPoint wire = udpSocket.AddressFamily == AddressFamily.InterNetworkV6 && Server.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(Server.Address.MapToIPv6(), Server.Port) : Server;
        _serverAddress = wire.Serialize();
    }

    /// <summary>The attempt this connection carries (its state is the session loop's).</summary>
    public RelayAttempt Attempt { get; }

    public TurnServerTransport Transport => Attempt.Transport;

    /// <summary>The TURN server as the link's UDP socket addresses it (IPv4-mapped on a dual-stack socket).</summary>
    public SocketAddress UdpServerAddress => _serverAddress;

    /// <summary>The TURN server, normalized (IPv4 as IPv4).</summary>
    public IPEndPoint Server => Attempt.Server;

    /// <summary>
    /// Opens the TCP connection (nothing to do for UDP) and starts reading; every message the
    /// server sends is handed to <paramref name="onMessage"/>, the end of the connection to <paramref name="onClosed"/>.
    /// The connect times out after <paramref name="timeout"/> on <paramref name="time"/>, the link's clock.
    /// </summary>
    public async Task ConnectAsync(Action<byte[]> onMessage, Action<string> onClosed, TimeSpan timeout, TimeProvider time)
    {
        if (Transport != TurnServerTransport.Tcp)
        {
            return;
        }
        RelayServer server = Attempt.ServerSettings;
        ServerRoute route = server.TcpRoute ?? new ServerRoute(new HostAndPort(Server.Address.ToString(), Server.Port), Tls: false, Proxy: null);
        ServerStream connection;
        try
        {
            connection = await ServerStreamConnector.ConnectAsync(route, server.Connection, timeout, time, _stopping.Token).ConfigureAwait(false);
        }
        catch (ServerConnectionException e)
        {
            throw new SocketException((int)SocketError.TimedOut, $"the TURN server over {route}: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            throw new SocketException((int)SocketError.OperationAborted, "the relay connection was closed");
        }
        _tcp = connection;
        _reader = Task.Run(() => ReadTcpAsync(connection.Stream, onMessage, onClosed, _stopping.Token));
    }

    /// <summary>Sends one STUN message or (padded, over TCP) ChannelData to the server. Errors are losses: requests are retransmitted, data by the stream.</summary>
    public void SendRaw(ReadOnlySpan<byte> message)
    {
        try
        {
            if (Transport == TurnServerTransport.Udp)
            {
                _udp.SendTo(message, SocketFlags.None, _serverAddress);
                return;
            }
            ServerStream? tcp = _tcp;
            if (tcp is null)
            {
                return;
            }
            lock (_tcpWrite)
            {
                tcp.Stream.Write(message);
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
        }
    }

    private static async Task ReadTcpAsync(Stream stream, Action<byte[]> onMessage, Action<string> onClosed, CancellationToken cancellationToken)
    {
        try
        {
            await TurnStreamReader.ReadMessagesAsync(stream, onMessage, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or ObjectDisposedException)
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                onClosed($"the TCP connection to the TURN server ended: {e.Message}");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        if (_tcp is { } tcp)
        {
            await tcp.DisposeAsync().ConfigureAwait(false);
        }
        await _reader.ConfigureAwait(false);
        _stopping.Dispose();
    }
}
