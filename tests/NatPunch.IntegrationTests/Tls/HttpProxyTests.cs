using System.Net;
using System.Net.Sockets;
using NatPunch.Net;
using NatPunch.Rendezvous;
using NatPunch.Server;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Tls;

/// <summary>Debian's squid on loopback, CONNECT allowed to the server's port only, with a Basic user; one for the class.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SquidFixture : IAsyncLifetime
{
    public const string User = "alice";
    public const string Password = "squid-s3cret";

    public NatPunchServer Server { get; private set; } = null!;

    public SquidProxy Proxy { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Server = new NatPunchServer(new NatPunchServerOptions { Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        Server.Start();
        Proxy = await SquidProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, FreeTcpPort()), [Server.UdpEndPoints[0].Port], (User, Password));
    }

    public async ValueTask DisposeAsync()
    {
        if (Proxy is not null)
        {
            await Proxy.DisposeAsync();
        }
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }

    private static int FreeTcpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}

/// <summary>The rendezvous through a real HTTP proxy: CONNECT with Basic credentials, and each way the proxy can say no.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class HttpProxyTests(SquidFixture squid) : IClassFixture<SquidFixture>, IAsyncDisposable
{
    private readonly List<RendezvousClient> _clients = [];

    public async ValueTask DisposeAsync()
    {
        foreach (RendezvousClient client in _clients)
        {
            await client.DisposeAsync();
        }
    }

    private RendezvousClient Client(string name, string proxyUrl, int? port = null)
    {
        HttpProxy.TryParse(proxyUrl, [], out HttpProxy proxy, out string error).ShouldBeTrue(error);
        var client = new RendezvousClient(new RendezvousClientOptions
        {
            Server = $"tcp://127.0.0.1:{port ?? squid.Server.UdpEndPoints[0].Port}",
            Name = name,
            Connection = new ServerConnectionOptions { Proxy = proxy },
            ConnectTimeout = TimeSpan.FromSeconds(3),
        });
        _clients.Add(client);
        return client;
    }

    private string ProxyUrl(string? user = null, string? password = null) =>
        user is null ? $"http://{squid.Proxy.EndPoint}" : $"http://{user}:{password}@{squid.Proxy.EndPoint}";

    [Fact]
    public async Task ARegistrationGoesThroughTheProxyWithCredentials()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        RendezvousClient client = Client("proxied", ProxyUrl(SquidFixture.User, SquidFixture.Password));
        (await client.StartAsync(null, ct)).Observed.ShouldStartWith("127.0.0.1:");
        client.Route!.Proxy.ShouldNotBeNull();
        // squid logs a tunnel when it closes.
        await client.DisposeAsync();
        string expected = $"CONNECT 127.0.0.1:{squid.Server.UdpEndPoints[0].Port}";
        for (int i = 0; i < 50 && !squid.Proxy.AccessLog.Contains(expected, StringComparison.Ordinal); i++)
        {
            await Task.Delay(100, ct);
        }
        squid.Proxy.AccessLog.ShouldContain(expected);
    }

    [Fact]
    public async Task MissingOrWrongCredentialsAreReportedAsSuchAndAtOnce()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var missing = await Should.ThrowAsync<RendezvousException>(() => Client("a", ProxyUrl()).StartAsync(null, ct));
        missing.Message.ShouldContain("requires authentication (407");
        var wrong = await Should.ThrowAsync<RendezvousException>(() => Client("b", ProxyUrl(SquidFixture.User, "wrong-password")).StartAsync(null, ct));
        wrong.Message.ShouldContain($"refused the credentials of user '{SquidFixture.User}'");
        wrong.Message.ShouldNotContain("wrong-password");
        started.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(3)); // neither waited for the connect timeout
    }

    [Fact]
    public async Task APortTheProxyDoesNotAllowGivesItsAnswer()
    {
        var refused = await Should.ThrowAsync<RendezvousException>(() =>
            Client("c", ProxyUrl(SquidFixture.User, SquidFixture.Password), port: 9).StartAsync(null, TestContext.Current.CancellationToken));
        refused.Message.ShouldContain("refused CONNECT to 127.0.0.1:9: 403");
    }
}
