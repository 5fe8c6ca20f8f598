using System.Net;
using NatPunch.Relay;
using NatPunch.Traversal;

namespace NatPunch;

/// <summary>
/// Which path carries the data at the moment. <paramref name="Transport"/> is how our packets
/// leave: "udp", or "tcp" when they go on a punched TCP connection or to a TURN server over TCP.
/// </summary>
public sealed record PeerPath(bool Direct, string Transport, IPEndPoint Local, IPEndPoint Remote, string CandidateTypes)
{
    public string Kind => Direct ? "direct" : "relay";

    /// <summary>The path of a selected pair; <paramref name="relayTransport"/> is how we reach our TURN server, if our side is relayed.</summary>
    internal static PeerPath FromSelection(Candidate local, Candidate remote, TurnServerTransport? relayTransport)
    {
        bool relayed = local.IsRelayed || remote.IsRelayed;
        string transport = local.IsTcp || (local.Type == CandidateType.Relayed && relayTransport == TurnServerTransport.Tcp) ? "tcp" : "udp";
        return new PeerPath(!relayed, transport, local.EndPoint, remote.EndPoint, $"{local.Type.ToWire()}/{remote.Type.ToWire()}");
    }
}
