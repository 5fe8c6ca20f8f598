using System.Net;
using NatPunch.Relay;

namespace NatPunch.Session;

/// <summary>What became of a <see cref="PeerLink"/>'s relay.</summary>
public abstract record RelayStatus
{
    /// <summary>The TURN server granted <paramref name="Relayed"/>; we reach the server over <paramref name="Transport"/>.</summary>
    public sealed record Ready(IPEndPoint Relayed, IPEndPoint Server, TurnServerTransport Transport) : RelayStatus;

    /// <summary>No relay: why (refused credentials, no answer over UDP or TCP, or lost later).</summary>
    public sealed record Failed(string Reason) : RelayStatus;
}
