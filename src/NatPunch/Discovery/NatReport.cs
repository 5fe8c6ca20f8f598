using System.Net;

namespace NatPunch.Discovery;

/// <summary>
/// What a NAT behaviour discovery run (RFC 5780 §4) found out about the path from this host to
/// a STUN server. Every "unknown" comes with a reason.
/// </summary>
public sealed record NatReport
{
    /// <summary>The server's primary address, as probed.</summary>
    public required IPEndPoint Server { get; init; }

    /// <summary>The local address and port of the primary socket, as used toward the server.</summary>
    public IPEndPoint? LocalEndPoint { get; init; }

    /// <summary>The server answered a Binding request over UDP (even with an error).</summary>
    public bool UdpWorks { get; init; }

    /// <summary>Why UDP is reported not to work.</summary>
    public string? UdpReason { get; init; }

    /// <summary>The server answered a Binding request over TCP; null when not tested.</summary>
    public bool? TcpWorks { get; init; }

    /// <summary>Why TCP is reported not to work or not tested.</summary>
    public string? TcpReason { get; init; }

    /// <summary>The public address of the primary socket as the server saw it (over TCP when UDP failed).</summary>
    public IPEndPoint? PublicEndPoint { get; init; }

    /// <summary>Every distinct public address the tests saw, the first one first.</summary>
    public IReadOnlyList<IPEndPoint> PublicEndPoints { get; init; } = [];

    /// <summary>False when the server saw the local address itself (no NAT, RFC 5780 §4.3); null when unknown.</summary>
    public bool? NatDetected { get; init; }

    public NatBehavior Mapping { get; init; }

    /// <summary>Why <see cref="Mapping"/> is what it is when that needs saying (always when unknown).</summary>
    public string? MappingReason { get; init; }

    public NatBehavior Filtering { get; init; }

    public string? FilteringReason { get; init; }

    /// <summary>A packet sent to the host's own public address came back in (RFC 5780 §4.5); null when unknown.</summary>
    public bool? Hairpinning { get; init; }

    public string? HairpinningReason { get; init; }

    /// <summary>The server sent OTHER-ADDRESS (RFC 5780 §7.4) with an alternate IP and port, so the tests could run.</summary>
    public bool SupportsRfc5780 { get; init; }

    /// <summary>The server's alternate address from OTHER-ADDRESS (or RFC 3489 CHANGED-ADDRESS).</summary>
    public IPEndPoint? OtherAddress { get; init; }

    /// <summary>SOFTWARE of the server, if it said.</summary>
    public string? ServerSoftware { get; init; }

    /// <summary>The error response to the first Binding request, if the server sent one.</summary>
    public string? ServerError { get; init; }

    /// <summary>Median round-trip time of the unretransmitted UDP probes the server answered.</summary>
    public TimeSpan? RoundTripTime { get; init; }

    /// <summary>How many probes the median <see cref="RoundTripTime"/> is taken over.</summary>
    public int RoundTripSamples { get; init; }

    /// <summary>The mapping lifetime search result; null when not requested.</summary>
    public MappingLifetimeEstimate? MappingLifetime { get; init; }

    /// <summary>How long the run took.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Datagrams that did not parse as STUN, over all sockets of the run.</summary>
    public long MalformedDatagrams { get; init; }

    /// <summary>The server answered over UDP or over TCP.</summary>
    public bool ServerReachable => UdpWorks || TcpWorks == true;

    /// <summary>The classic name of this NAT.</summary>
    public NatType NatType => Classify();

    private NatType Classify()
    {
        if (!UdpWorks)
        {
            return TcpWorks == true ? NatType.UdpBlocked : NatType.Unreachable;
        }
        if (NatDetected == false)
        {
            return Filtering switch
            {
                NatBehavior.EndpointIndependent => NatType.OpenInternet,
                NatBehavior.AddressDependent or NatBehavior.AddressAndPortDependent => NatType.FirewalledNoNat,
                _ => NatType.NoNat,
            };
        }
        return Mapping switch
        {
            NatBehavior.AddressDependent or NatBehavior.AddressAndPortDependent => NatType.Symmetric,
            NatBehavior.EndpointIndependent => Filtering switch
            {
                NatBehavior.EndpointIndependent => NatType.FullCone,
                NatBehavior.AddressDependent => NatType.RestrictedCone,
                NatBehavior.AddressAndPortDependent => NatType.PortRestrictedCone,
                _ => NatType.Cone,
            },
            _ => NatType.Unknown,
        };
    }
}
