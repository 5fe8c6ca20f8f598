using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Server;
using NatPunch.Server.Turn;

namespace NatPunch.IntegrationTests.Turn;

/// <summary>With TURN on, one port still answers Binding statelessly and hands TURN to the relay, over UDP and TCP.</summary>
public sealed class TurnDemultiplexingTests : IAsyncLifetime
{
    private NatPunchServer _server = null!;

    public ValueTask InitializeAsync()
    {
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Turn = new TurnOptions { Users = new Dictionary<string, string> { ["u"] = "p" } },
        });
        _server.Start();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task BindingAndAllocateShareTheUdpPort()
    {
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await udp.SendToAsync(Request(StunMethod.Binding), SocketFlags.None, _server.UdpEndPoints[0]);
        (await ReceiveUdp(udp)).ShouldBe((StunClass.SuccessResponse, 0));
        await udp.SendToAsync(Request(StunMethod.Allocate), SocketFlags.None, _server.UdpEndPoints[0]);
        (await ReceiveUdp(udp)).ShouldBe((StunClass.ErrorResponse, StunErrorCode.Unauthorized));
        // ChannelData with no allocation is dropped, and the port keeps answering.
        await udp.SendToAsync(new byte[] { 0x40, 0x00, 0x00, 0x01, 0xAA }, SocketFlags.None, _server.UdpEndPoints[0]);
        await udp.SendToAsync(Request(StunMethod.Binding), SocketFlags.None, _server.UdpEndPoints[0]);
        (await ReceiveUdp(udp)).ShouldBe((StunClass.SuccessResponse, 0));
    }

    [Fact]
    public async Task BindingAllocateAndPaddedChannelDataShareATcpConnection()
    {
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await tcp.ConnectAsync(_server.UdpEndPoints[0], TestContext.Current.CancellationToken);
        // A padded ChannelData message (5 bytes + 3 padding) between two requests must not break framing.
        byte[] channelData = new byte[12];
        ChannelData.Write(channelData, 0x4000, [1, 2, 3, 4, 5], pad: true).ShouldBe(12);
        await tcp.SendAsync(Request(StunMethod.Allocate).Concat(channelData).Concat(Request(StunMethod.Binding)).ToArray(), SocketFlags.None);
        var seen = new List<(StunClass, int)>();
        byte[] buffer = new byte[4096];
        int filled = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (seen.Count < 2)
        {
            filled += await tcp.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token);
            while (StunMessage.TryGetFramedLength(buffer.AsSpan(0, filled), out int length) && filled >= length)
            {
                seen.Add(Read(buffer.AsSpan(0, length)));
                buffer.AsSpan(length, filled - length).CopyTo(buffer);
                filled -= length;
            }
        }
        seen.ShouldBe([(StunClass.ErrorResponse, StunErrorCode.Unauthorized), (StunClass.SuccessResponse, 0)]);
    }

    private static async Task<(StunClass, int)> ReceiveUdp(Socket udp)
    {
        byte[] buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketReceiveFromResult result = await udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
        return Read(buffer.AsSpan(0, result.ReceivedBytes));
    }

    private static (StunClass, int) Read(ReadOnlySpan<byte> bytes)
    {
        StunMessage.TryParse(bytes, out StunMessage message, out _).ShouldBeTrue();
        message.TryGetErrorCode(out int code, out _);
        return (message.Type.Class, code);
    }

    private static byte[] Request(StunMethod method)
    {
        byte[] buffer = new byte[128];
        var builder = new StunMessageBuilder(buffer, new StunMessageType(method, StunClass.Request), TransactionId.NewRandom());
        if (method == StunMethod.Allocate)
        {
            builder.AddUInt32(StunAttributeType.RequestedTransport, (uint)TurnTransport.Udp << 24);
        }
        builder.AddFingerprint();
        return builder.Written.ToArray();
    }
}
