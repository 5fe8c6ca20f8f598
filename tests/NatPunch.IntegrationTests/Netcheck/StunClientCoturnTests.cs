using System.Net;
using NatPunch.IntegrationTests.Coturn;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary>The socket driver against coturn with RFC 5780 on, on loopback.</summary>
public class StunClientCoturnTests(Rfc5780CoturnFixture coturn) : IClassFixture<Rfc5780CoturnFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static StunClientOptions Loopback => new() { LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0) };

    [Fact]
    public async Task BindingAnswerCarriesTheMappedAddressAndRfc5780Attributes()
    {
        CoturnServer server = coturn.Require();
        await using var client = new StunClient(Loopback);

        StunResponse response = await client.BindingAsync(server.Primary, Cancel);

        response.IsSuccess.ShouldBeTrue();
        response.MappedAddress.ShouldBe(client.LocalEndPoint);
        response.From.ShouldBe(server.Primary);
        response.ResponseOrigin.ShouldBe(server.Primary);
        response.OtherAddress.ShouldBe(server.Alternate);
        response.Software!.ShouldContain("Coturn");
        response.RoundTripTime.ShouldBeLessThan(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task DefaultDualModeSocketGetsItsIPv4MappedAddress()
    {
        CoturnServer server = coturn.Require();
        await using var client = new StunClient();

        StunResponse response = await client.BindingAsync(server.Primary, Cancel);

        response.MappedAddress.ShouldBe(new IPEndPoint(IPAddress.Loopback, client.LocalEndPoint.Port));
    }

    [Fact]
    public async Task ResolvesHostAndPortNames()
    {
        CoturnServer server = coturn.Require();
        await using var client = new StunClient(Loopback);

        IPEndPoint resolved = await client.ResolveAsync($"localhost:{server.Port}", Cancel);
        StunResponse response = await client.BindingAsync(resolved, Cancel);

        resolved.ShouldBe(server.Primary);
        response.MappedAddress.ShouldBe(client.LocalEndPoint);
        Should.Throw<ArgumentException>(() => client.ResolveAsync("no port:", Cancel));
    }

    [Fact]
    public async Task IPv4SocketCannotUseAnIPv6Server()
    {
        CoturnServer server = coturn.Require();
        await using var client = new StunClient(Loopback);

        await Should.ThrowAsync<System.Net.Sockets.SocketException>(client.ResolveAsync($"[::1]:{server.Port}", Cancel));
    }

    [Theory]
    [InlineData(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort, "127.0.0.2", true)]
    [InlineData(ChangeRequestFlags.ChangePort, "127.0.0.1", true)]
    [InlineData(ChangeRequestFlags.ChangeIP, "127.0.0.2", false)]
    public async Task ChangeRequestIsAnsweredFromTheOtherAddress(ChangeRequestFlags flags, string address, bool otherPort)
    {
        CoturnServer server = coturn.Require();
        await using var client = new StunClient(Loopback);

        StunResponse response = await client.SendAsync(new StunRequest(server.Primary) { ChangeRequest = flags }, Cancel);

        var expected = new IPEndPoint(IPAddress.Parse(address), otherPort ? server.Port + 1 : server.Port);
        response.From.ShouldBe(expected);
        response.ResponseOrigin.ShouldBe(expected);
        response.MappedAddress.ShouldBe(client.LocalEndPoint);
    }

    [Fact]
    public async Task ManyConcurrentTransactionsOnOneSocket()
    {
        CoturnServer server = coturn.Require();
        await using var client = new StunClient(Loopback);

        StunResponse[] responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(i =>
            client.BindingAsync(i % 2 == 0 ? server.Primary : server.Alternate, Cancel)));

        responses.Select(r => r.TransactionId).Distinct().Count().ShouldBe(100);
        responses.ShouldAllBe(r => r.MappedAddress!.Equals(client.LocalEndPoint));
        client.PendingCount.ShouldBe(0);
        client.MalformedDatagrams.ShouldBe(0);
    }

    [Fact]
    public async Task ResponsePortSendsTheAnswerToTheOtherSocket()
    {
        CoturnServer server = coturn.Require();
        await using var idle = new StunClient(Loopback);
        await using var checker = new StunClient(Loopback);
        StunResponse mapping = await idle.BindingAsync(server.Primary, Cancel);

        StunResponse response = await checker.SendAsync(new StunRequest(server.Primary) { ResponsePort = mapping.MappedAddress!.Port }, idle, Cancel);

        response.IsSuccess.ShouldBeTrue();
        response.ReceivedOn.ShouldBe(idle.LocalEndPoint);
        response.MappedAddress.ShouldBe(checker.LocalEndPoint);
    }

    [Fact]
    public async Task PaddedRequestIsAnswered()
    {
        CoturnServer server = coturn.Require();
        await using var client = new StunClient(Loopback);

        StunResponse response = await client.SendAsync(new StunRequest(server.Primary) { PaddingLength = StunRequest.FullMtuPadding }, Cancel);

        response.IsSuccess.ShouldBeTrue();
        response.MappedAddress.ShouldBe(client.LocalEndPoint);
    }

    [Fact]
    public async Task TcpBindingIsAnswered()
    {
        CoturnServer server = coturn.Require();
        await using var client = new StunClient(Loopback);

        StunResponse response = await client.SendTcpAsync(new StunRequest(server.Primary), Cancel);

        response.IsSuccess.ShouldBeTrue();
        response.MappedAddress!.Address.ShouldBe(IPAddress.Loopback);
        response.MappedAddress.ShouldBe(response.ReceivedOn);
        response.From.ShouldBe(server.Primary);
    }
}
