using System.Net;

namespace NatPunch.Server.Turn;

/// <summary>How a client reaches the server.</summary>
public enum TurnClientTransport : byte
{
    Udp,
    Tcp,
}

/// <summary>
/// The 5-tuple that names an allocation (RFC 8656 §2): the client's address and port, the server
/// address it talks to, and the transport. IPv4-mapped IPv6 addresses are reduced to IPv4.
/// </summary>
public readonly record struct TurnClient(IPEndPoint Remote, IPEndPoint Local, TurnClientTransport Transport)
{
    public static TurnClient Create(IPEndPoint remote, IPEndPoint local, TurnClientTransport transport) =>
        new(Normalize(remote), Normalize(local), transport);

    public bool IsTcp => Transport == TurnClientTransport.Tcp;

    public static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    public override string ToString() => $"{Transport.ToString().ToLowerInvariant()} {Remote}→{Local}";
}
