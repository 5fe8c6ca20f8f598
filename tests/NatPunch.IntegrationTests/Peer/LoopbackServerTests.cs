using System.Net;
using NatPunch.Server;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>Tests of peers meeting through one <see cref="NatPunchServer"/> on loopback (STUN, TURN and rendezvous), started for each test.</summary>
public abstract class LoopbackServerTests : IAsyncLifetime
{
    protected NatPunchServer Server { get; private set; } = null!;

    public ValueTask InitializeAsync()
    {
        Server = new NatPunchServer(ServerOptions);
        Server.Start();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();

    /// <summary>The server's options: on loopback, defaults otherwise.</summary>
    protected virtual NatPunchServerOptions ServerOptions => new() { Listen = [new IPEndPoint(IPAddress.Loopback, 0)] };

    /// <summary>A peer named <paramref name="name"/> of this server, offering loopback candidates, giving up after 15 s.</summary>
    protected PeerOptions Options(string name) => new()
    {
        Server = Server.UdpEndPoints[0].ToString(),
        Name = name,
        IncludeLoopbackCandidates = true,
        Timeout = TimeSpan.FromSeconds(15),
    };
}
