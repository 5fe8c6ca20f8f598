using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Discovery.Internal;

/// <summary>
/// One probe the discovery core asks its driver to run: a Binding transaction from socket
/// <see cref="SocketId"/> to <see cref="Destination"/> (over TCP for <see cref="ProbePurpose.TcpBinding"/>),
/// or for <see cref="ProbePurpose.Hairpinning"/>, a request that must arrive on <see cref="ReceiverSocketId"/>.
/// </summary>
internal sealed record DiscoveryProbe(int Id, ProbePurpose Purpose, int SocketId, IPEndPoint Destination)
{
    public ChangeRequestFlags? ChangeRequest { get; init; }

    /// <summary>RESPONSE-PORT (RFC 5780 §7.5); the response then arrives on <see cref="ReceiverSocketId"/>.</summary>
    public int? ResponsePort { get; init; }

    /// <summary>A second socket where the answer (or for hairpinning, the request itself) may arrive.</summary>
    public int ReceiverSocketId { get; init; } = DiscoverySockets.None;

    public int PaddingLength { get; init; }

    /// <summary>The idle time a lifetime probe measures.</summary>
    public TimeSpan Idle { get; init; }

    public override string ToString() => Purpose switch
    {
        ProbePurpose.BindingTest => $"Binding request to {Destination} (UDP)",
        ProbePurpose.MappingTest2 => $"mapping test II: Binding request to the alternate address {Destination}",
        ProbePurpose.MappingTest3 => $"mapping test III: Binding request to the alternate address and port {Destination}",
        ProbePurpose.FilteringTest2 => $"filtering test II: asking {Destination} to answer from its other IP and port",
        ProbePurpose.FilteringTest3 => $"filtering test III: asking {Destination} to answer from its other port",
        ProbePurpose.HairpinBind => $"hairpinning test: Binding request from a second socket to {Destination}",
        ProbePurpose.Hairpinning => $"hairpinning test: sending to this host's own public address {Destination}",
        ProbePurpose.TcpBinding => $"Binding request to {Destination} (TCP)",
        ProbePurpose.LifetimeBind => $"lifetime probe: opening a mapping to be left idle {Idle.TotalSeconds:0.#} s",
        ProbePurpose.LifetimeCheck => $"lifetime probe: is the mapping still there after {Idle.TotalSeconds:0.#} s idle?",
        _ => Purpose.ToString(),
    };
}
