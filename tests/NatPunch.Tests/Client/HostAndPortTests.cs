using System.Net;
using System.Net.Sockets;

namespace NatPunch.Tests.Client;

public class HostAndPortTests
{
    [Theory]
    [InlineData("stun.example.org:3478", "stun.example.org", 3478)]
    [InlineData("stun.example.org", "stun.example.org", 3478)]
    [InlineData("127.0.0.1:19302", "127.0.0.1", 19302)]
    [InlineData("[::1]:3479", "::1", 3479)]
    [InlineData("[2001:db8::1]", "2001:db8::1", 3478)]
    [InlineData("2001:db8::1", "2001:db8::1", 3478)]
    [InlineData("  localhost:1  ", "localhost", 1)]
    public void ParsesHostAndPort(string text, string host, int port)
    {
        HostAndPort.TryParse(text, 3478, out HostAndPort value, out string error).ShouldBeTrue(error);
        value.ShouldBe(new HostAndPort(host, port));
    }

    [Theory]
    [InlineData("")]
    [InlineData(":3478")]
    [InlineData("host:")]
    [InlineData("host:0")]
    [InlineData("host:65536")]
    [InlineData("host:port")]
    [InlineData("host:-1")]
    [InlineData("[::1")]
    [InlineData("[::1]x")]
    [InlineData("[not-v6]:3478")]
    [InlineData("bad host:3478")]
    [InlineData("2001:db8::1:zz")]
    public void RejectsBadInputWithoutThrowing(string text)
    {
        HostAndPort.TryParse(text, 3478, out _, out string error).ShouldBeFalse();
        error.ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public void PortIsRequiredWithoutADefault()
    {
        HostAndPort.TryParse("example.org", 0, out _, out string error).ShouldBeFalse();
        error.ShouldContain("port");
    }

    [Fact]
    public void FormatsIPv6InBrackets()
    {
        new HostAndPort("::1", 3478).ToString().ShouldBe("[::1]:3478");
        new HostAndPort("example.org", 1).ToString().ShouldBe("example.org:1");
    }

    [Fact]
    public async Task ResolvesLiteralsWithoutDns()
    {
        (await new HostAndPort("127.0.0.2", 5000).ResolveAsync(cancellationToken: TestContext.Current.CancellationToken))
            .ShouldBe(IPEndPoint.Parse("127.0.0.2:5000"));
        (await new HostAndPort("::1", 5000).ResolveAsync(cancellationToken: TestContext.Current.CancellationToken))
            .ShouldBe(IPEndPoint.Parse("[::1]:5000"));
        await Should.ThrowAsync<SocketException>(() => new HostAndPort("::1", 5000).ResolveAsync(AddressFamily.InterNetwork, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ResolvesLocalhostFromTheHostsFile()
    {
        IPEndPoint endPoint = await new HostAndPort("localhost", 3478).ResolveAsync(cancellationToken: TestContext.Current.CancellationToken);

        IPAddress.IsLoopback(endPoint.Address).ShouldBeTrue();
        endPoint.Port.ShouldBe(3478);
    }
}
