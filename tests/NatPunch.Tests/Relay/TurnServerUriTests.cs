using NatPunch.Relay;

namespace NatPunch.Tests.Relay;

/// <summary>The RFC 7065 <c>turn:</c> URIs that <c>--turn</c> takes.</summary>
public sealed class TurnServerUriTests
{
    [Theory]
    [InlineData("turn:127.0.0.1", "127.0.0.1", 3478, TurnServerTransport.Udp)]
    [InlineData("turn:127.0.0.1:3479", "127.0.0.1", 3479, TurnServerTransport.Udp)]
    [InlineData("turn:turn.example.org?transport=udp", "turn.example.org", 3478, TurnServerTransport.Udp)]
    [InlineData("turn:turn.example.org:443?transport=tcp", "turn.example.org", 443, TurnServerTransport.Tcp)]
    [InlineData("turn:[::1]:3479?transport=tcp", "::1", 3479, TurnServerTransport.Tcp)]
    [InlineData("turn:[2001:db8::1]", "2001:db8::1", 3478, TurnServerTransport.Udp)]
    [InlineData("TURN:Example.org?TRANSPORT=TCP", "Example.org", 3478, TurnServerTransport.Tcp)]
    [InlineData("turn://example.org:5000", "example.org", 5000, TurnServerTransport.Udp)]
    [InlineData("  turn:example.org:5000?transport=udp  ", "example.org", 5000, TurnServerTransport.Udp)]
    public void ParsesServerPortAndTransport(string text, string host, int port, TurnServerTransport transport)
    {
        TurnServerUri.TryParse(text, out TurnServerUri uri, out string error).ShouldBeTrue(error);

        uri.Server.ShouldBe(new HostAndPort(host, port));
        uri.Transport.ShouldBe(transport);
        error.ShouldBeEmpty();
    }

    [Fact]
    public void DefaultsAreRfc8656Port3478OverUdp()
    {
        TurnServerUri.TryParse("turn:relay.example", out TurnServerUri uri, out _).ShouldBeTrue();

        uri.Server.Port.ShouldBe(TurnServerUri.DefaultPort);
        TurnServerUri.DefaultPort.ShouldBe(3478);
        uri.Transport.ShouldBe(TurnServerTransport.Udp);
    }

    [Theory]
    [InlineData("turn:[::1]:3479?transport=tcp")]
    [InlineData("turn:127.0.0.1:3478?transport=udp")]
    [InlineData("turn:example.org:1?transport=udp")]
    public void ToStringGivesTheCanonicalUriBack(string text)
    {
        TurnServerUri.TryParse(text, out TurnServerUri uri, out _).ShouldBeTrue();

        uri.ToString().ShouldBe(text);
        TurnServerUri.TryParse(uri.ToString(), out TurnServerUri again, out _).ShouldBeTrue();
        again.ShouldBe(uri);
    }

    [Fact]
    public void TurnsIsTlsOverTcpOnPort5349AndDtlsIsRefusedWithAClearMessage()
    {
        TurnServerUri.TryParse("turns:turn.example.org", out TurnServerUri uri, out _).ShouldBeTrue();
        uri.ShouldBe(new TurnServerUri(new HostAndPort("turn.example.org", 5349), TurnServerTransport.Tcp, Tls: true));
        TurnServerUri.TryParse(uri.ToString(), out TurnServerUri again, out _).ShouldBeTrue();
        again.ShouldBe(uri);

        TurnServerUri.TryParse("turns:turn.example.org:443?transport=udp", out _, out string error).ShouldBeFalse();
        error.ShouldContain("DTLS");
        error.ShouldContain("not supported");
    }

    [Fact]
    public void AnUnknownParameterIsNamed()
    {
        TurnServerUri.TryParse("turn:example.org?ttl=5", out _, out string error).ShouldBeFalse();

        error.ShouldContain("unknown parameter 'ttl'");
    }

    [Theory]
    [InlineData("turn:example.org?transport=tls", "tls")]
    [InlineData("turn:example.org?transport=sctp", "sctp")]
    [InlineData("turn:example.org?transport", "''")]
    public void AnUnknownTransportIsNamed(string text, string named)
    {
        TurnServerUri.TryParse(text, out _, out string error).ShouldBeFalse();

        error.ShouldContain("transport must be udp or tcp");
        error.ShouldContain(named);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("turn:")]
    [InlineData("stun:example.org")]
    [InlineData("example.org:3478")]
    [InlineData("turn:[::1")]
    [InlineData("turn:[::1]x")]
    [InlineData("turn:[not-v6]:3478")]
    [InlineData("turn:example.org:0")]
    [InlineData("turn:example.org:65536")]
    [InlineData("turn:example.org:port")]
    [InlineData("turn:user@example.org")]
    [InlineData("turn:bad host")]
    [InlineData("turns:example.org?transport=udp")]
    [InlineData("turn:example.org?transport=udp&foo=bar")]
    public void RejectsBadInputWithoutThrowing(string? text)
    {
        TurnServerUri.TryParse(text, out TurnServerUri uri, out string error).ShouldBeFalse();

        uri.ShouldBeNull();
        error.ShouldNotBeNullOrWhiteSpace();
    }
}
