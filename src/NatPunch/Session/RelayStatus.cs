using System.Net;
using NatPunch.Relay;

namespace NatPunch.Session;

/// <summary>What became of a <see cref="PeerLink"/>'s relay.</summary>
public abstract record RelayStatus
{
    /// <summary>The TURN server granted <paramref name="Relayed"/>; we reach the server over <paramref name="Transport"/>.</summary>
    public sealed record Ready(IPEndPoint Relayed, IPEndPoint Server, TurnServerTransport Transport) : RelayStatus;

    /// <summary>No relay can be had: why (refused credentials, no answer over UDP or TCP).</summary>
    public sealed record Failed(string Reason) : RelayStatus;

    /// <summary>The relay in use was lost (why: a 437, no answer, the TCP connection closed); a new one is being allocated.</summary>
    public sealed record Lost(string Reason) : RelayStatus;
}
