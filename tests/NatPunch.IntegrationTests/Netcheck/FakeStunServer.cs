using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary>A UDP socket on loopback that the test drives by hand: read a request, answer it, or not.</summary>
internal sealed class FakeStunServer : IDisposable
{
    private readonly Socket _socket;

    public FakeStunServer(IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(address, 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>The next datagram and its sender; throws <see cref="OperationCanceledException"/> after <paramref name="timeout"/>.</summary>
    public async Task<(byte[] Datagram, IPEndPoint From)> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        byte[] buffer = new byte[2048];
        SocketReceiveFromResult result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(EndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0), cancel.Token);
        return (buffer[..result.ReceivedBytes], (IPEndPoint)result.RemoteEndPoint);
    }

    /// <summary>Whether a datagram arrives within <paramref name="window"/>.</summary>
    public async Task<bool> ReceivesWithinAsync(TimeSpan window)
    {
        try
        {
            await ReceiveAsync(window);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Send(byte[] datagram, IPEndPoint to) => _socket.SendTo(datagram, to);

    /// <summary>A success response to <paramref name="request"/> that maps the client to <paramref name="from"/>.</summary>
    public static byte[] Answer(byte[] request, IPEndPoint from)
    {
        StunMessage.TryParse(request, out StunMessage message, out _).ShouldBeTrue();
        byte[] buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess, message.TransactionId);
        builder.AddXorAddress(StunAttributeType.XorMappedAddress, from);
        builder.AddFingerprint();
        return buffer[..builder.Length];
    }

    public static TransactionId IdOf(byte[] datagram)
    {
        StunMessage.TryParse(datagram, out StunMessage message, out _).ShouldBeTrue();
        return message.TransactionId;
    }

    public void Dispose() => _socket.Dispose();
}
