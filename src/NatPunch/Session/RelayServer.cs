using System.Net;
using NatPunch.Net;
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

    /// <summary>
    /// How the TCP transport reaches the server: the rendezvous's own way (TLS on 443, through the proxy)
    /// for the NatPunch server's relay, TLS for a <c>turns:</c> server. Null: plain TCP to <see cref="EndPoint"/>.
    /// </summary>
    internal ServerRoute? TcpRoute { get; init; }

    /// <summary>The proxy and certificate pin for <see cref="TcpRoute"/>.</summary>
    internal ServerConnectionOptions Connection { get; init; } = ServerConnectionOptions.Default;

    /// <summary>How long UDP gets before TCP is tried as well (zero: both at once).</summary>
    public TimeSpan TcpAfter { get; init; } = DefaultTcpAfter;

    /// <summary>How long an allocation may take before that transport counts as failed.</summary>
    public TimeSpan AllocateTimeout { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>After the relay was lost, the first new allocation is asked for this much later; each round that fails doubles the wait.</summary>
    public TimeSpan ReallocateAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two rounds of re-allocation.</summary>
    public TimeSpan MaxReallocateAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A relay not heard from for this long is asked (a Refresh) whether it still exists before a path
    /// is built on it again. Short: a relayed path hears its server at every consent answer (~5 s),
    /// and asking costs one round trip.
    /// </summary>
    public TimeSpan QuietAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A Refresh asking a quiet server unanswered for this long: the relay is lost.</summary>
    public TimeSpan ConfirmTimeout { get; init; } = TimeSpan.FromSeconds(3);
}
