using System.Net;
using NatPunch.Relay;
using NatPunch.Server;
using NatPunch.Server.Turn;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>Our server on loopback as a TURN relay with one long-term user, which stays valid across a restart on the same port.</summary>
internal static class LoopbackTurnServer
{
    public static readonly TurnCredentials Credentials = new("relay-user", "relay-pass");

    /// <param name="port">0 for any; the old one to restart on it.</param>
    public static NatPunchServer Start(int port)
    {
        var server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, port)],
            Turn = new TurnOptions
            {
                Realm = "natpunch.test",
                Users = new Dictionary<string, string> { [Credentials.Username] = Credentials.Password },
                AllowLoopbackPeers = true,
            },
        });
        server.Start();
        return server;
    }
}
