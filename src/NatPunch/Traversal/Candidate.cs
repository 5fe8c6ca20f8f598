using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Net;
using NatPunch.Protocol.Rendezvous;

namespace NatPunch.Traversal;

/// <summary>A transport address a peer may be reached at (RFC 8445 §5.1), with its priority and foundation.</summary>
public sealed record Candidate(CandidateType Type, IPEndPoint EndPoint, uint Priority, string Foundation, IPEndPoint? Related = null,
    CandidateTransport Transport = CandidateTransport.Udp)
{
    /// <summary>Component id: NatPunch uses one component per session.</summary>
    public const int Component = 1;

    /// <summary>
    /// priority = 2^24 × type preference + 2^8 × local preference + (256 − component id)
    /// (RFC 8445 §5.1.2.1).
    /// </summary>
    public static uint ComputePriority(CandidateType type, int localPreference, CandidateTransport transport = CandidateTransport.Udp) =>
        (uint)((type.TypePreference(transport) << 24) + (localPreference << 8) + (256 - Component));

    /// <summary>
    /// Local preference: IPv6 before IPv4 (RFC 8421 §4), and earlier interfaces before later ones.
    /// </summary>
    public static int LocalPreference(IPAddress address, int interfaceIndex) =>
        (address.AddressFamily == AddressFamily.InterNetworkV6 ? 65535 : 32767) - Math.Min(interfaceIndex, 1000);

    public AddressFamily Family => EndPoint.AddressFamily;

    /// <summary>
    /// On a TURN relay: a relayed candidate, or a peer-reflexive one learnt from a check the peer
    /// sent through its relay (such checks carry the relayed type preference, 0, in PRIORITY).
    /// </summary>
    public bool IsRelayed => Type == CandidateType.Relayed || (Type == CandidateType.PeerReflexive && Priority >> 24 == 0);

    public bool IsTcp => Transport == CandidateTransport.Tcp;

    /// <summary>Whether <paramref name="other"/> is the same transport address (an endpoint and its transport).</summary>
    public bool SameAddress(Candidate other) => Transport == other.Transport && EndPoint.Equals(other.EndPoint);

    public CandidateInfo ToInfo() => new(Type.ToWire(), Format(EndPoint), Priority, Foundation, Related is null ? null : Format(Related),
        IsTcp ? CandidateInfo.TransportTcp : null);

    /// <summary>Reads a candidate from the rendezvous protocol; false if the address or type is not valid.</summary>
    public static bool TryFromInfo(CandidateInfo info, out Candidate candidate)
    {
        candidate = null!;
        if (!CandidateTypeNames.TryParse(info.Type, out CandidateType type)
            || !IPEndPoint.TryParse(info.Address, out IPEndPoint? endPoint) || endPoint.Port == 0
            || info.Transport is not (null or CandidateInfo.TransportTcp)
            || (info.Transport is CandidateInfo.TransportTcp && type == CandidateType.Relayed))
        {
            return false; // an unknown transport, or a TCP relay (not spoken): not a candidate we can reach
        }
        IPEndPoint? related = info.Related is not null && IPEndPoint.TryParse(info.Related, out IPEndPoint? r) ? r : null;
        CandidateTransport transport = info.Transport is null ? CandidateTransport.Udp : CandidateTransport.Tcp;
        candidate = new Candidate(type, Normalize(endPoint), info.Priority, info.Foundation, related, transport);
        return true;
    }

    /// <summary>IPv4-mapped IPv6 addresses become IPv4, so equal addresses compare equal.</summary>
    public static IPEndPoint Normalize(IPEndPoint endPoint) =>
        IPv4Mapping.Unmap(endPoint);

    public static string Format(IPEndPoint endPoint) => Normalize(endPoint).ToString();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Type.ToWire()}{(IsTcp ? "/tcp" : "")} {Format(EndPoint)}");
}
