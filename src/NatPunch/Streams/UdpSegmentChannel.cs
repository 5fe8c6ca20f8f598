using System.Net;
using System.Net.Sockets;

namespace NatPunch.Streams;

/// <summary>
/// An <see cref="ISegmentChannel"/> over a connected UDP socket: each segment is one datagram to
/// the connected peer, and the kernel filters out datagrams from anyone else. ICMP errors
/// (port unreachable and the like, reported on connected sockets) count as loss, not failure.
/// </summary>
public sealed class UdpSegmentChannel : ISegmentChannel, IDisposable
{
    /// <summary>Socket buffers asked for (the kernel may grant less): room for a burst of a large window.</summary>
    public const int SocketBufferSize = 4 * 1024 * 1024;

    private readonly Socket _socket;
    private readonly bool _ownsSocket;
    private long _datagramsSent;
    private long _datagramsReceived;
    private long _sendErrors;

    /// <param name="connectedSocket">A UDP socket, bound and connected to the peer.</param>
    /// <param name="ownsSocket">Dispose the socket with the channel.</param>
    public UdpSegmentChannel(Socket connectedSocket, bool ownsSocket = true)
    {
        ArgumentNullException.ThrowIfNull(connectedSocket);
        if (connectedSocket.SocketType != SocketType.Dgram || connectedSocket.RemoteEndPoint is null)
        {
            throw new ArgumentException("Need a connected datagram socket.", nameof(connectedSocket));
        }
        _socket = connectedSocket;
        _ownsSocket = ownsSocket;
    }

    public EndPoint LocalEndPoint => _socket.LocalEndPoint!;

    public EndPoint RemoteEndPoint => _socket.RemoteEndPoint!;

    public long DatagramsSent => Interlocked.Read(ref _datagramsSent);

    public long DatagramsReceived => Interlocked.Read(ref _datagramsReceived);

    /// <summary>Sends that failed transiently and were treated as lost.</summary>
    public long SendErrors => Interlocked.Read(ref _sendErrors);

    /// <summary>Binds a UDP socket to <paramref name="local"/> and connects it to <paramref name="remote"/>.</summary>
    public static UdpSegmentChannel Connect(IPEndPoint local, IPEndPoint remote)
    {
        var socket = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            TryEnlargeBuffers(socket);
            socket.Bind(local);
            socket.Connect(remote);
            return new UdpSegmentChannel(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Two channels on loopback ports chosen by the system, connected to each other.</summary>
    public static (UdpSegmentChannel First, UdpSegmentChannel Second) CreateLoopbackPair(AddressFamily family = AddressFamily.InterNetwork)
    {
        IPAddress loopback = family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        var first = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        var second = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            foreach (Socket socket in (Socket[])[first, second])
            {
                TryEnlargeBuffers(socket);
                socket.Bind(new IPEndPoint(loopback, 0));
            }
            first.Connect(second.LocalEndPoint!);
            second.Connect(first.LocalEndPoint!);
            return (new UdpSegmentChannel(first), new UdpSegmentChannel(second));
        }
        catch
        {
            first.Dispose();
            second.Dispose();
            throw;
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken)
    {
        try
        {
            await _socket.SendAsync(segment, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _datagramsSent);
        }
        catch (SocketException e) when (IsTransient(e.SocketErrorCode))
        {
            Interlocked.Increment(ref _sendErrors);
        }
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                int received = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref _datagramsReceived);
                return received;
            }
            catch (SocketException e) when (IsTransient(e.SocketErrorCode))
            {
                // An ICMP error for an earlier send, or an oversized datagram: not a failure of the path.
            }
        }
    }

    public void Dispose()
    {
        if (_ownsSocket)
        {
            _socket.Dispose();
        }
    }

    private static bool IsTransient(SocketError error) => error is SocketError.ConnectionRefused or SocketError.ConnectionReset
        or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.MessageSize
        or SocketError.NoBufferSpaceAvailable or SocketError.WouldBlock;

    private static void TryEnlargeBuffers(Socket socket)
    {
        try
        {
            socket.ReceiveBufferSize = SocketBufferSize;
            socket.SendBufferSize = SocketBufferSize;
        }
        catch (SocketException)
        {
            // Keep the defaults: loss from a full buffer is handled like any other loss.
        }
    }
}
