using System.Net;
using NatPunch.Protocol.Net;

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
/// <remarks>
/// Over TCP the allocation belongs to the connection (RFC 8656 §3.1), not to the addresses: a
/// client that reconnects from the same port (its old connection closed, or reset, and the server
/// not done with it yet) has the same 5-tuple but must never find the old connection's allocation.
/// So a TCP client also carries its connection's number (<see cref="Connection"/>, unique per
/// process, from <see cref="TurnService.RegisterTcpClient"/>); it is 0 over UDP.
/// </remarks>
public readonly record struct TurnClient(IPEndPoint Remote, IPEndPoint Local, TurnClientTransport Transport, long Connection = 0)
{
    public static TurnClient Create(IPEndPoint remote, IPEndPoint local, TurnClientTransport transport, long connection = 0) =>
        new(Normalize(remote), Normalize(local), transport, connection);

    public bool IsTcp => Transport == TurnClientTransport.Tcp;

    public static IPEndPoint Normalize(IPEndPoint endPoint) =>
        IPv4Mapping.Unmap(endPoint);

    public override string ToString() =>
        Connection == 0 ? $"{Transport.ToString().ToLowerInvariant()} {Remote}→{Local}" : $"{Transport.ToString().ToLowerInvariant()} {Remote}→{Local} #{Connection}";
}
