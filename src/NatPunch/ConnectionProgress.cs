using System.Net;

namespace NatPunch;

/// <summary>Steps of establishing a connection, reported as they happen (the CLI prints them).</summary>
public abstract record ConnectionProgress
{
    public sealed record Gathered(int HostCandidates, int ServerReflexiveCandidates, IPEndPoint? PublicAddress) : ConnectionProgress;

    public sealed record Registered(string Name, string Observed) : ConnectionProgress;

    /// <summary>A TURN server granted us <paramref name="Relayed"/>, reached over <paramref name="Transport"/> ("udp" or "tcp").</summary>
    public sealed record RelayReady(IPEndPoint Relayed, IPEndPoint Server, string Transport) : ConnectionProgress;

    /// <summary>No relay can be used: why.</summary>
    public sealed record RelayUnavailable(string Reason) : ConnectionProgress;

    /// <summary>The gateway opened <paramref name="External"/> for the session's port with <paramref name="Protocol"/> ("pcp", "nat-pmp", "upnp"); offered as a candidate.</summary>
    /// <param name="Lifetime">The lease the gateway granted; zero: permanent until removed (at exit).</param>
    /// <param name="BehindAnotherNat">The external address is not public: the gateway itself sits behind another NAT.</param>
    public sealed record PortMapped(string Protocol, IPEndPoint External, TimeSpan Lifetime, bool BehindAnotherNat) : ConnectionProgress;

    /// <summary>The gateway mapped nothing: why, per protocol.</summary>
    public sealed record PortMappingUnavailable(string Reason) : ConnectionProgress;

    public sealed record WaitingForPeer(string? Peer) : ConnectionProgress;

    public sealed record Introduced(string Peer, string Session, int RemoteCandidates, TimeSpan StartIn) : ConnectionProgress;

    public sealed record Punching(int Pairs) : ConnectionProgress;

    /// <summary>Data flows on <paramref name="Path"/>, sealed end to end with the keys of the peer that proved <paramref name="PeerKey"/>.</summary>
    /// <param name="RelayReason">Through the relay: why no direct path could be made, when that is known (symmetric NATs).</param>
    /// <param name="Probing">Port probing, when the session did it (one NAT symmetric, the other not).</param>
    /// <param name="Route">What the traceroute to the peer's public address found (clash avoidance), when one ran.</param>
    /// <param name="HeldForPeerOpening">Checks to the peer's public address waited for its opening datagram (its NAT may clash).</param>
    public sealed record Connected(PeerPath Path, TimeSpan Elapsed, Security.PeerKey? PeerKey = null, string? RelayReason = null,
        PortProbingSummary? Probing = null, Traversal.RouteToPeer? Route = null, bool HeldForPeerOpening = false) : ConnectionProgress;

    public sealed record PathLost(string Reason) : ConnectionProgress;

    public sealed record Status(string Message) : ConnectionProgress;
}
