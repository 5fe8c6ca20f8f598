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

    public sealed record WaitingForPeer(string? Peer) : ConnectionProgress;

    public sealed record Introduced(string Peer, string Session, int RemoteCandidates, TimeSpan StartIn) : ConnectionProgress;

    public sealed record Punching(int Pairs) : ConnectionProgress;

    /// <summary>Data flows on <paramref name="Path"/>, sealed end to end with the keys of the peer that proved <paramref name="PeerKey"/>.</summary>
    public sealed record Connected(PeerPath Path, TimeSpan Elapsed, Security.PeerKey? PeerKey = null) : ConnectionProgress;

    public sealed record PathLost(string Reason) : ConnectionProgress;

    public sealed record Status(string Message) : ConnectionProgress;
}
