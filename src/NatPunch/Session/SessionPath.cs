using System.Net;

namespace NatPunch.Session;

/// <summary>
/// Where a session datagram goes or came from: the peer's address, straight from the socket or, with
/// <paramref name="Via"/>, through that relay allocation, or with <paramref name="Tcp"/> on the TCP connection punched to it.
/// </summary>
internal sealed record SessionPath(IPEndPoint EndPoint, RelayAttempt? Via, bool Tcp = false);
