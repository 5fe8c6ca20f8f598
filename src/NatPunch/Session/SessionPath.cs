using System.Net;

namespace NatPunch.Session;

/// <summary>Where a session datagram goes or came from: the peer's address, straight from the socket or, with <paramref name="Via"/>, through that relay allocation.</summary>
internal sealed record SessionPath(IPEndPoint EndPoint, RelayAttempt? Via);
