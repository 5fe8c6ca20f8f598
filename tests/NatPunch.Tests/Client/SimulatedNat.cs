using System.Net;
using NatPunch.Discovery;
using NatPunch.Discovery.Internal;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.Tests.Client;

/// <summary>What the simulated NAT, firewall and STUN server do (RFC 4787 behaviours).</summary>
internal sealed record NatProfile
{
    /// <summary>No address translation at all; <see cref="Filtering"/> then acts as a firewall.</summary>
    public bool NoNat { get; init; }
    public NatBehavior Mapping { get; init; } = NatBehavior.EndpointIndependent;
    public NatBehavior Filtering { get; init; } = NatBehavior.EndpointIndependent;
    public bool Hairpinning { get; init; } = true;
    /// <summary>A mapping expires this long after the last outbound packet (RFC 4787 §4.3).</summary>
    public TimeSpan MappingLifetime { get; init; } = TimeSpan.MaxValue;
    public bool UdpBlocked { get; init; }
    public bool TcpWorks { get; init; } = true;
    public bool ServerDown { get; init; }
    public bool ServerSupportsRfc5780 { get; init; } = true;
    public bool ServerSupportsResponsePort { get; init; } = true;
    /// <summary>The server answers CHANGE-REQUEST from the address the request came to.</summary>
    public bool ServerIgnoresChangeRequest { get; init; }
    public TimeSpan RoundTrip { get; init; } = TimeSpan.FromMilliseconds(20);
}

/// <summary>
/// A tiny in-memory network: one host with numbered sockets behind a NAT with the chosen mapping,
/// filtering, hairpinning and lifetime, and an RFC 5780 STUN server with two IPs and two ports.
/// It answers each probe of the discovery core at the moment the probe starts.
/// </summary>
internal sealed class SimulatedNat(NatProfile profile)
{
    public static readonly IPAddress HostAddress = IPAddress.Parse("10.0.0.2");
    public static readonly IPAddress PublicAddress = IPAddress.Parse("203.0.113.7");
    public static readonly IPEndPoint Server = IPEndPoint.Parse("198.51.100.1:3478");
    public static readonly IPAddress AlternateAddress = IPAddress.Parse("198.51.100.2");
    public const int AlternatePort = 3479;

    private readonly List<Mapping> _mappings = [];
    private int _nextPublicPort = 50000;

    public NatProfile Profile => profile;

    /// <summary>Where socket <paramref name="socketId"/> is bound, seen from the host.</summary>
    public IPEndPoint Local(int socketId) => new(profile.NoNat ? PublicAddress : HostAddress, 40000 + socketId);

    public IPEndPoint OtherAddress => new(AlternateAddress, AlternatePort);

    public int MappingsCreated { get; private set; }

    /// <summary>The outcome of <paramref name="probe"/> and how long after its start it becomes known.</summary>
    public (ProbeOutcome Outcome, TimeSpan After) Run(DiscoveryProbe probe, TimeSpan now, NatDiscoveryOptions options)
    {
        TimeSpan udpTimeout = options.Retransmission.UnreliableTimeout;
        if (probe.Purpose == ProbePurpose.TcpBinding)
        {
            return profile.TcpWorks && !profile.ServerDown
                ? (ProbeOutcome.Answered(Response(new IPEndPoint(PublicAddress, 60000), probe.Destination, withOther: true), DiscoverySockets.None), profile.RoundTrip * 2)
                : (ProbeOutcome.Failed("Connection refused"), profile.RoundTrip);
        }
        if (profile.UdpBlocked || profile.ServerDown)
        {
            return (ProbeOutcome.TimedOut(), udpTimeout);
        }

        Mapping outbound = Send(probe.SocketId, probe.Destination, now);
        if (probe.Purpose == ProbePurpose.Hairpinning)
        {
            bool toSelf = profile.NoNat && probe.Destination.Address.Equals(PublicAddress);
            bool hairpinned = !profile.NoNat && profile.Hairpinning && FindAlive(probe.Destination, now) is not null;
            return toSelf || hairpinned
                ? (ProbeOutcome.Received(probe.ReceiverSocketId), profile.RoundTrip / 2)
                : (ProbeOutcome.TimedOut(), udpTimeout);
        }

        if (!IsServerAddress(probe.Destination))
        {
            return (ProbeOutcome.TimedOut(), udpTimeout);
        }
        IPEndPoint origin = probe.Destination;
        if (probe.ChangeRequest is { } change && profile.ServerSupportsRfc5780 && !profile.ServerIgnoresChangeRequest)
        {
            origin = new IPEndPoint(
                change.HasFlag(ChangeRequestFlags.ChangeIP) ? Other(origin.Address) : origin.Address,
                change.HasFlag(ChangeRequestFlags.ChangePort) ? OtherPort(origin.Port) : origin.Port);
        }
        IPEndPoint replyTo = outbound.Public;
        StunResponse response;
        if (probe.ResponsePort is { } responsePort && !profile.ServerSupportsResponsePort)
        {
            response = Error(420);
        }
        else
        {
            response = Response(outbound.Public, origin, profile.ServerSupportsRfc5780);
            if (probe.ResponsePort is { } port)
            {
                replyTo = new IPEndPoint(outbound.Public.Address, port);
            }
        }

        int? socket = Receive(replyTo, origin, now);
        if (socket is { } id && (id == probe.SocketId || id == probe.ReceiverSocketId))
        {
            return (ProbeOutcome.Answered(response with { From = origin }, id), profile.RoundTrip);
        }
        return (ProbeOutcome.TimedOut(), udpTimeout);
    }

    private bool IsServerAddress(IPEndPoint endPoint) =>
        (endPoint.Address.Equals(Server.Address) && endPoint.Port == Server.Port)
        || (profile.ServerSupportsRfc5780
            && (endPoint.Address.Equals(Server.Address) || endPoint.Address.Equals(AlternateAddress))
            && (endPoint.Port == Server.Port || endPoint.Port == AlternatePort));

    private static IPAddress Other(IPAddress address) => address.Equals(Server.Address) ? AlternateAddress : Server.Address;

    private static int OtherPort(int port) => port == Server.Port ? AlternatePort : Server.Port;

    /// <summary>An outbound packet: finds or creates the mapping (RFC 4787 §4.1) and records the destination for filtering (§5).</summary>
    private Mapping Send(int socketId, IPEndPoint destination, TimeSpan now)
    {
        _mappings.RemoveAll(m => now - m.LastOutbound >= profile.MappingLifetime);
        Mapping? mapping = _mappings.Find(m => m.SocketId == socketId && KeyMatches(m, destination));
        if (mapping is null)
        {
            MappingsCreated++;
            mapping = new Mapping(socketId, destination, profile.NoNat ? Local(socketId) : new IPEndPoint(PublicAddress, _nextPublicPort++));
            _mappings.Add(mapping);
        }
        mapping.LastOutbound = now;
        mapping.Contacted.Add(destination);
        return mapping;
    }

    private bool KeyMatches(Mapping mapping, IPEndPoint destination) => profile.NoNat || profile.Mapping switch
    {
        NatBehavior.AddressDependent => mapping.FirstDestination.Address.Equals(destination.Address),
        NatBehavior.AddressAndPortDependent => mapping.FirstDestination.Equals(destination),
        _ => true,
    };

    private Mapping? FindAlive(IPEndPoint publicEndPoint, TimeSpan now) =>
        _mappings.Find(m => m.Public.Equals(publicEndPoint) && now - m.LastOutbound < profile.MappingLifetime);

    /// <summary>An inbound packet: the socket it reaches, or null if the NAT drops it.</summary>
    private int? Receive(IPEndPoint to, IPEndPoint from, TimeSpan now)
    {
        Mapping? mapping = FindAlive(to, now);
        if (mapping is null)
        {
            return null;
        }
        bool allowed = profile.Filtering switch
        {
            NatBehavior.AddressDependent => mapping.Contacted.Any(c => c.Address.Equals(from.Address)),
            NatBehavior.AddressAndPortDependent => mapping.Contacted.Contains(from),
            _ => true,
        };
        return allowed ? mapping.SocketId : null;
    }

    private StunResponse Response(IPEndPoint mapped, IPEndPoint origin, bool withOther) => new()
    {
        TransactionId = TransactionId.NewRandom(),
        IsSuccess = true,
        MappedAddress = mapped,
        ResponseOrigin = withOther ? origin : null,
        OtherAddress = withOther ? OtherAddress : null,
        From = origin,
        RoundTripTime = profile.RoundTrip,
        SendCount = 1,
        Software = "simulated",
    };

    private static StunResponse Error(int code) => new()
    {
        TransactionId = TransactionId.NewRandom(),
        IsSuccess = false,
        ErrorCode = code,
        ErrorReason = StunErrorCode.DefaultReason(code),
        SendCount = 1,
    };

    private sealed class Mapping(int socketId, IPEndPoint firstDestination, IPEndPoint publicEndPoint)
    {
        public int SocketId { get; } = socketId;
        public IPEndPoint FirstDestination { get; } = firstDestination;
        public IPEndPoint Public { get; } = publicEndPoint;
        public TimeSpan LastOutbound { get; set; }
        public HashSet<IPEndPoint> Contacted { get; } = [];
    }
}
