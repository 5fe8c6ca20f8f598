using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using NatPunch.Protocol.Stun;
using NatPunch.Server;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Server;

/// <summary>
/// Our server against real third-party STUN clients on loopback: coturn's turnutils_stunclient and
/// turnutils_natdiscovery, and the classic RFC 3489 `stun` client. 127.0.0.2 is the alternate IP.
/// </summary>
public sealed class StunServerInteropTests : IAsyncLifetime
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);
    private NatPunchServer _server = null!;
    private IPEndPoint _primary = null!;

    public ValueTask InitializeAsync()
    {
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            AlternateAddress = IPAddress.Parse("127.0.0.2"),
        });
        _server.Start();
        _primary = _server.UdpEndPoints[0];
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private string Port => _primary.Port.ToString();

    [Fact]
    public async Task CoturnStunClientGetsReflexiveAddressOverUdp()
    {
        Requires.Tool("turnutils_stunclient");
        var result = await ExternalProcess.RunAsync("turnutils_stunclient", ["-p", Port, "127.0.0.1"], ToolTimeout, TestContext.Current.CancellationToken);
        result.ExitCode.ShouldBe(0, result.ToString());
        result.Output.ShouldContain("UDP reflexive addr: 127.0.0.1:", customMessage: result.ToString());
    }

    [Fact]
    public async Task CoturnStunClientInRfc5780ModeSeesOtherAddressAndOrigin()
    {
        Requires.Tool("turnutils_stunclient");
        var result = await ExternalProcess.RunAsync("turnutils_stunclient", ["-f", "-p", Port, "127.0.0.1"], ToolTimeout, TestContext.Current.CancellationToken);
        result.ExitCode.ShouldBe(0, result.ToString());
        result.Output.ShouldContain($"Other addr: : 127.0.0.2:{_primary.Port + 1}", customMessage: result.ToString());
        // With CHANGE-REQUEST (ip and port), the response comes from the other address.
        result.Output.ShouldContain($"Response origin: : 127.0.0.2:{_primary.Port + 1}", customMessage: result.ToString());
    }

    [Fact]
    public async Task ClassicStunClientClassifiesLoopbackAsOpen()
    {
        Requires.Tool("stun");
        var result = await ExternalProcess.RunAsync("stun", [$"127.0.0.1:{Port}", "-v"], ToolTimeout, TestContext.Current.CancellationToken);
        result.Output.ShouldContain($"ChangedAddress = 127.0.0.2:{_primary.Port + 1}", customMessage: result.ToString());
        result.Output.ShouldContain("Primary: Open", customMessage: result.ToString());
        _server.Counters.Responses.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task CoturnNatDiscoveryFindsEndpointIndependentMappingAndFiltering()
    {
        Requires.Tool("turnutils_natdiscovery");
        var result = await ExternalProcess.RunAsync("turnutils_natdiscovery", ["-m", "-f", "-p", Port, "127.0.0.1"], ToolTimeout, TestContext.Current.CancellationToken);
        result.ExitCode.ShouldBe(0, result.ToString());
        result.Output.ShouldContain("NAT with Endpoint Independent Mapping!", customMessage: result.ToString());
        result.Output.ShouldContain("NAT with Endpoint Independent Filtering!", customMessage: result.ToString());
    }

    [Fact]
    public async Task BindingOverTcpWithStreamFraming()
    {
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await tcp.ConnectAsync(_primary, TestContext.Current.CancellationToken);
        // Two requests in one write, then one split across two writes: framing must cope with both.
        byte[] one = BindingRequest(out TransactionId first);
        byte[] two = BindingRequest(out TransactionId second);
        byte[] three = BindingRequest(out TransactionId third);
        await tcp.SendAsync(one.Concat(two).ToArray(), SocketFlags.None);
        await tcp.SendAsync(three.AsMemory(0, 7), SocketFlags.None);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        await tcp.SendAsync(three.AsMemory(7), SocketFlags.None);
        var seen = new List<TransactionId>();
        var buffer = new byte[4096];
        int filled = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (seen.Count < 3)
        {
            filled += await tcp.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token);
            while (StunMessage.TryGetFramedLength(buffer.AsSpan(0, filled), out int length) && filled >= length)
            {
                StunMessage.TryParse(buffer.AsSpan(0, length), out StunMessage response, out _).ShouldBeTrue();
                response.TryGetMappedAddress(out IPEndPoint mapped).ShouldBeTrue();
                mapped.ShouldBe((IPEndPoint)tcp.LocalEndPoint!);
                seen.Add(response.TransactionId);
                buffer.AsSpan(length, filled - length).CopyTo(buffer);
                filled -= length;
            }
        }
        seen.ShouldBe([first, second, third]);
    }

    [Fact]
    public async Task MalformedDatagramsAreCountedAndServiceGoesOn()
    {
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        long before = _server.Counters.Malformed;
        var random = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(0, 200)];
            random.NextBytes(junk);
            if (junk.Length > 0)
            {
                junk[0] |= 0x80; // never valid STUN
            }
            await udp.SendToAsync(junk, SocketFlags.None, _primary);
        }
        byte[] request = BindingRequest(out TransactionId id);
        await udp.SendToAsync(request, SocketFlags.None, _primary);
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketReceiveFromResult received = await udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
        StunMessage.TryParse(buffer.AsSpan(0, received.ReceivedBytes), out StunMessage response, out _).ShouldBeTrue();
        response.TransactionId.ShouldBe(id);
        (_server.Counters.Malformed - before).ShouldBe(200);
    }

    private static byte[] BindingRequest(out TransactionId id)
    {
        id = TransactionId.NewRandom();
        var buffer = new byte[64];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, id);
        builder.AddFingerprint();
        return builder.Written.ToArray();
    }
}
