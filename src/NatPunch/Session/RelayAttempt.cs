using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Turn;
using NatPunch.Relay;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// One try at a TURN allocation over one transport, as <see cref="RelayLifecycle"/> sees it: the
/// <see cref="TurnClientCore"/>, when it started, whether the server answered, why it ended. The
/// driver gives it a way to the server (<see cref="RelayConnection"/>). Touched only on the session's
/// loop, except <see cref="LastHeardAt"/>, which the data path writes from any thread.
/// </summary>
internal sealed class RelayAttempt
{
    private long _lastHeardTicks;

    public RelayAttempt(RelayServer server, TurnServerTransport transport, TimeSpan startedAt)
    {
        Transport = transport;
        ServerSettings = server;
        Server = Candidate.Normalize(server.EndPoint);
        StartedAt = startedAt;
        Core = new TurnClientCore(Server, server.Credentials, TurnClientOptions.Default with
        {
            Reliable = transport == TurnServerTransport.Tcp,
            RequestedAddressFamily = Server.AddressFamily == AddressFamily.InterNetworkV6 ? RequestedAddressFamily.IPv6 : null,
        });
    }

    public TurnClientCore Core { get; }

    public TurnServerTransport Transport { get; }

    /// <summary>"UDP", "TCP" or "TLS", for messages.</summary>
    public string TransportName => Transport == TurnServerTransport.Udp ? "UDP" : ServerSettings.TcpRoute?.Tls == true ? "TLS" : "TCP";

    /// <summary>The server as configured: how its TCP is reached.</summary>
    public RelayServer ServerSettings { get; }

    /// <summary>The TURN server, normalized (IPv4 as IPv4).</summary>
    public IPEndPoint Server { get; }

    /// <summary>When it began: the allocation must be granted within <see cref="RelayServer.AllocateTimeout"/> of this.</summary>
    public TimeSpan StartedAt { get; }

    /// <summary>The server has answered on this transport at least once (so it is not blocked).</summary>
    public bool Heard { get; set; }

    /// <summary>When the server was last heard on this attempt's transport (any thread: the data path bypasses the loop).</summary>
    public TimeSpan LastHeardAt
    {
        get => TimeSpan.FromTicks(Volatile.Read(ref _lastHeardTicks));
        set => Volatile.Write(ref _lastHeardTicks, value.Ticks);
    }

    /// <summary>Why this attempt is over, if it is (TCP connection failed, allocation refused or unanswered, lost, beaten).</summary>
    public string? FailureReason { get; set; }

    public override string ToString() => $"{TransportName} {Server}";
}
