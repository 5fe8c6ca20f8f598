using NatPunch.Net;

namespace NatPunch.Tests.Net;

/// <summary>Proxy URLs as --proxy and HTTPS_PROXY give them, and NO_PROXY as curl reads it.</summary>
public sealed class HttpProxyTests
{
    [Theory]
    [InlineData("http://proxy.example:8080", "proxy.example", 8080, null, null)]
    [InlineData("proxy.example", "proxy.example", 3128, null, null)]
    [InlineData("http://proxy.example:80", "proxy.example", 80, null, null)]
    [InlineData("http://al%40ice:p%3Ass@[2001:db8::3]:3128/", "2001:db8::3", 3128, "al@ice", "p:ss")]
    public void AProxyUrlGivesHostPortAndCredentials(string text, string host, int port, string? user, string? password)
    {
        HttpProxy.TryParse(text, [], out HttpProxy proxy, out string error).ShouldBeTrue(error);
        proxy.Server.ShouldBe(new HostAndPort(host, port));
        proxy.Credentials?.UserName.ShouldBe(user);
        proxy.Credentials?.Password.ShouldBe(password);
        if (user is null)
        {
            proxy.Credentials.ShouldBeNull();
        }
    }

    [Fact]
    public void AnHttpsProxyIsRefusedAndAPasswordIsNeverRepeated()
    {
        HttpProxy.TryParse("https://bob:hunter2@proxy.example", [], out _, out string error).ShouldBeFalse();
        error.ShouldContain("only http://");
        error.ShouldNotContain("hunter2");
        HttpProxy.TryParse("http://bob:hunter2@proxy.example", [], out HttpProxy proxy, out _).ShouldBeTrue();
        proxy.ToString().ShouldNotContain("hunter2");
    }

    [Theory]
    [InlineData("example.org", "example.org", true)]
    [InlineData(".example.org", "turn.example.org", true)]
    [InlineData("example.org", "turn.example.org", true)]
    [InlineData("example.org", "badexample.org", false)]
    [InlineData("10.0.0.0/8, 192.0.2.1", "10.1.2.3", true)]
    [InlineData("10.0.0.0/8, 192.0.2.1", "192.0.2.1", true)]
    [InlineData("10.0.0.0/8, 192.0.2.1", "192.0.2.2", false)]
    [InlineData("[::1]", "::1", true)]
    [InlineData("*", "anything.example", true)]
    [InlineData("example.org:443", "example.org", true)]
    [InlineData("", "example.org", false)]
    public void NoProxyNamesHostsDomainsAddressesAndNetworks(string noProxy, string host, bool bypassed)
    {
        HttpProxy.TryParse("http://proxy.example", HttpProxy.ParseBypass(noProxy), out HttpProxy proxy, out _).ShouldBeTrue();
        proxy.Bypasses(host).ShouldBe(bypassed);
    }

    [Fact]
    public void TheEnvironmentGivesTheProxyAndAMalformedOneIsAnError()
    {
        var environment = new Dictionary<string, string> { ["https_proxy"] = "http://proxy.example:3128", ["no_proxy"] = "localhost" };
        HttpProxy.TryFromEnvironment(environment.GetValueOrDefault, out HttpProxy? proxy, out string error).ShouldBeTrue(error);
        proxy!.Server.ShouldBe(new HostAndPort("proxy.example", 3128));
        proxy.Bypasses("localhost").ShouldBeTrue();

        HttpProxy.TryFromEnvironment(_ => null, out proxy, out _).ShouldBeTrue();
        proxy.ShouldBeNull();

        HttpProxy.TryFromEnvironment(name => name == "HTTPS_PROXY" ? "socks5://x" : null, out _, out error).ShouldBeFalse();
        error.ShouldStartWith("HTTPS_PROXY: ");
    }
}
