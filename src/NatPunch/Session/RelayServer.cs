using System.Net;
using NatPunch.Relay;

namespace NatPunch.Session;

/// <summary>
/// The TURN server a <see cref="PeerLink"/> allocates its relayed candidate on, and how it may
/// reach it. With both transports allowed, UDP is tried first and TCP joins when UDP has not
/// answered within <see cref="TcpAfter"/> (a network that blocks UDP); the first allocation wins.
/// </summary>
public sealed record RelayServer(IPEndPoint EndPoint, TurnCredentials Credentials, bool Udp = true, bool Tcp = true)
{
    public static readonly TimeSpan DefaultTcpAfter = TimeSpan.FromSeconds(1);

    /// <summary>How long UDP gets before TCP is tried as well (zero: both at once).</summary>
    public TimeSpan TcpAfter { get; init; } = DefaultTcpAfter;

    /// <summary>How long an allocation may take before that transport counts as failed.</summary>
    public TimeSpan AllocateTimeout { get; init; } = TimeSpan.FromSeconds(8);
}
