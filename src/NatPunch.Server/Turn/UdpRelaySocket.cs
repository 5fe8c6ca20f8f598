using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NatPunch.Protocol.Net;
using NatPunch.Server.Internal;

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
    private readonly RelayPoller? _poller;
    private readonly long _pollerId;

    // The last peer sent to, and its serialised address (used under the service's lock only).
    private IPEndPoint? _lastPeer;
    private SocketAddress? _lastPeerAddress;
    private readonly byte[] _lastPeerRaw = new byte[LinuxDatagramBatch.AddressSize];
    private int _lastPeerRawLength;

    // The last peer received from on the poller's thread: its raw sockaddr and endpoint (one
    // IPEndPoint per peer, not per datagram).
    private readonly byte[] _lastFromRaw = new byte[LinuxDatagramBatch.AddressSize];
    private int _lastFromLength;
    private IPEndPoint? _lastFrom;

    public UdpRelaySocket(IPEndPoint endPoint, TurnService owner, RelayPoller? poller = null)
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
        Handle = _socket.SafeHandle;
        if (poller is not null)
        {
            try
            {
                _pollerId = poller.Add(this, _socket);
                _poller = poller;
            }
            catch
            {
                _socket.Dispose();
                throw;
            }
        }
        else
        {
            _ = Task.Run(ReceiveLoopAsync);
        }
    }

    public IPEndPoint LocalEndPoint { get; }

    internal Socket Socket => _socket;

    internal SafeHandle Handle { get; }

    public void SendTo(IPEndPoint peer, ReadOnlySpan<byte> data)
    {
        try
        {
            if (!ReferenceEquals(peer, _lastPeer))
            {
                _lastPeerAddress = peer.Serialize();
                _lastPeerRawLength = _lastPeerAddress.Size;
                _lastPeerAddress.Buffer.Span[.._lastPeerRawLength].CopyTo(_lastPeerRaw);
                _lastPeer = peer;
            }
            // Linux: into the service's outbox (sendmmsg when the lock holder is done).
            if (_owner.TryQueue(Handle, _lastPeerRaw.AsSpan(0, _lastPeerRawLength), data))
            {
                return;
            }
            _socket.SendTo(data, SocketFlags.None, _lastPeerAddress!);
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

    /// <summary>The peer datagram <paramref name="index"/> of <paramref name="batch"/> came from; null if not a datagram.</summary>
    internal IPEndPoint? PeerOf(LinuxDatagramBatch batch, int index)
    {
        int length = batch.AddressLength(index);
        if (length != SocketAddressBytes.SizeOf(_socket.AddressFamily))
        {
            return null;
        }
        ReadOnlySpan<byte> raw = batch.Address(index)[..length];
        if (_lastFrom is not null && raw.SequenceEqual(_lastFromRaw.AsSpan(0, _lastFromLength)))
        {
            return _lastFrom;
        }
        Span<byte> address = stackalloc byte[16];
        int addressLength = SocketAddressBytes.GetAddress(raw, _socket.AddressFamily, address, out int port);
        var from = new IPEndPoint(new IPAddress(address[..addressLength]), port);
        raw.CopyTo(_lastFromRaw);
        _lastFromLength = length;
        _lastFrom = from;
        return from;
    }

    public void Dispose()
    {
        _poller?.Remove(_pollerId, _socket);
        _closing.Cancel();
        _socket.Dispose();
    }
}
