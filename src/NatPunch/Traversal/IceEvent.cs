using System.Net;

namespace NatPunch.Traversal;

/// <summary>What an <see cref="IceAgent"/> reports to its driver.</summary>
public abstract record IceEvent
{
    /// <summary>A new local candidate to tell the peer about (trickle).</summary>
    public sealed record CandidateGathered(Candidate Candidate) : IceEvent;

    /// <summary>Every STUN server has answered or timed out.</summary>
    public sealed record GatheringComplete(int CandidateCount) : IceEvent;

    /// <summary>Both sides agreed on a pair: data goes to <paramref name="Remote"/> from now on.</summary>
    public sealed record Selected(Candidate Local, Candidate Remote, TimeSpan RoundTrip) : IceEvent;

    /// <summary>The selected pair stopped answering consent checks (RFC 7675).</summary>
    public sealed record ConsentLost(IPEndPoint Remote, TimeSpan Silence) : IceEvent;

    /// <summary>The selected pair can no longer carry data, for <paramref name="Reason"/> (its local candidate, our relay, is gone).</summary>
    public sealed record PathLost(IPEndPoint Remote, string Reason) : IceEvent;

    /// <summary>
    /// Port probing, on the side whose NAT varies its port: open <paramref name="Count"/> more sockets
    /// and send <paramref name="Opening"/> from each to <paramref name="Toward"/> (the peer's public
    /// address), so that the NAT maps each at a port the peer's probes may hit. A check that arrives on
    /// one of them is answered from it, and the path that works uses it.
    /// </summary>
    public sealed record OpenProbeSockets(IPEndPoint Toward, int Count, ReadOnlyMemory<byte> Opening) : IceEvent;

    /// <summary>Port probing is over: the extra sockets that carry no path can be closed.</summary>
    public sealed record ProbeSocketsDone : IceEvent;

    /// <summary>
    /// Clash avoidance (<see cref="ClashAvoidanceOptions"/>): trace the route to <paramref name="Peer"/>
    /// (the peer's public address) for at most <paramref name="Wait"/>, send <paramref name="Opening"/> to
    /// each of <paramref name="PeerEndPoints"/> from the agent's socket with a time to live of
    /// <see cref="RouteToPeer.RoutersBefore"/> when that is at least 2, and hand the result to
    /// <see cref="IceAgent.RouteTraced"/>. Meanwhile checks to that address wait.
    /// </summary>
    public sealed record TraceRouteToPeer(IPAddress Peer, IReadOnlyList<IPEndPoint> PeerEndPoints, ReadOnlyMemory<byte> Opening, TimeSpan Wait) : IceEvent;

    /// <summary>
    /// Punch TCP connections to <paramref name="Remotes"/> (the peer's TCP candidates) from our TCP
    /// port, starting at <paramref name="At"/> on the agent's clock, and report each that opens with
    /// <see cref="IceAgent.TcpConnectionOpened"/>.
    /// </summary>
    public sealed record PunchTcp(IReadOnlyList<IPEndPoint> Remotes, TimeSpan At) : IceEvent;

    /// <summary>No pair could be made to work.</summary>
    public sealed record Failed(string Reason) : IceEvent;
}
