using NatPunch.Net;

namespace NatPunch.Tests.Net;

/// <summary>The forms of <c>--server</c>: which scheme, which port for TCP and for UDP.</summary>
public sealed class ServerAddressTests
{
    [Theory]
    [InlineData("example.org", "example.org", 3478, ServerScheme.Auto, false, 3478)]
    [InlineData("example.org:4000", "example.org", 4000, ServerScheme.Auto, true, 4000)]
    [InlineData("tls://example.org", "example.org", 443, ServerScheme.Tls, false, 3478)]
    [InlineData("TLS://example.org:8443/", "example.org", 8443, ServerScheme.Tls, true, 3478)]
    [InlineData("tcp://[2001:db8::1]", "2001:db8::1", 3478, ServerScheme.Tcp, false, 3478)]
    [InlineData("tcp://192.0.2.1:5000", "192.0.2.1", 5000, ServerScheme.Tcp, true, 5000)]
    public void EachFormGivesItsSchemeAndPorts(string text, string host, int port, ServerScheme scheme, bool portGiven, int udpPort)
    {
        ServerAddress.TryParse(text, out ServerAddress address, out string error).ShouldBeTrue(error);
        address.ShouldBe(new ServerAddress(host, port, scheme, portGiven));
        address.UdpPort.ShouldBe(udpPort);
        ServerAddress.TryParse(address.ToString(), out ServerAddress again, out _).ShouldBeTrue();
        (again.Host, again.Port, again.Scheme).ShouldBe((host, port, scheme));
    }

    [Theory]
    [InlineData("https://example.org", "unknown scheme")]
    [InlineData("tls://", "empty")]
    [InlineData("example.org:99999", "")]
    public void AMalformedServerSaysWhy(string text, string expected)
    {
        ServerAddress.TryParse(text, out _, out string error).ShouldBeFalse();
        error.ShouldContain(expected);
    }
}
