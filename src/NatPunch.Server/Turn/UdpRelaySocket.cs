using System.Net;
using System.Net.Sockets;

namespace NatPunch.Server.Turn;

/// <summary>
/// A relayed transport address: one UDP socket and its receive loop, which hands every datagram
/// from a peer to the <see cref="TurnService"/> that owns the allocation.
/// </summary>
internal sealed class UdpRelaySocket : IRelaySocket
{
    private readonly Socket _socket;
    private readonly TurnService _owner;
    private readonly CancellationTokenSource _closing = new();

    public UdpRelaySocket(IPEndPoint endPoint, TurnService owner)
    {
        _owner = owner;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            _socket.ReceiveBufferSize = 1024 * 1024;
            _socket.SendBufferSize = 1024 * 1024;
            _socket.Bind(endPoint);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _ = Task.Run(ReceiveLoopAsync);
    }

    public IPEndPoint LocalEndPoint { get; }

    public void SendTo(IPEndPoint peer, ReadOnlySpan<byte> data)
    {
        try
        {
            _socket.SendTo(data, SocketFlags.None, peer);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public void SetDontFragment()
    {
        try
        {
            if (_socket.AddressFamily == AddressFamily.InterNetwork)
            {
                _socket.DontFragment = true;
            }
        }
        catch (SocketException)
        {
        }
    }

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(65536, pinned: true);
        var from = new SocketAddress(_socket.AddressFamily);
        var template = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        CancellationToken closing = _closing.Token;
        while (!closing.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, from, closing).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
            {
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            _owner.HandleFromPeer(this, (IPEndPoint)template.Create(from), buffer.AsSpan(0, received));
        }
    }

    public void Dispose()
    {
        _closing.Cancel();
        _socket.Dispose();
    }
}
