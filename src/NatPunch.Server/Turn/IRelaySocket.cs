using System.Net;

namespace NatPunch.Server.Turn;

/// <summary>A relayed transport address: one UDP socket the TURN core sends to peers through.</summary>
public interface IRelaySocket : IDisposable
{
    IPEndPoint LocalEndPoint { get; }

    /// <summary>Sends to a peer; failures (ICMP, full buffers) are the datagram's loss, never thrown.</summary>
    void SendTo(IPEndPoint peer, ReadOnlySpan<byte> data);

    /// <summary>Sets the DF bit on what this socket sends (DONT-FRAGMENT, RFC 8656 §18.8).</summary>
    void SetDontFragment();
}

/// <summary>Where the TURN core gets relay sockets from and how it reaches clients: the only I/O it does, behind interfaces.</summary>
public interface ITurnEnvironment
{
    /// <summary>The IP a relay for <paramref name="client"/> of <paramref name="family"/> binds to, or null when the family is not available.</summary>
    IPAddress? RelayAddressFor(TurnClient client, System.Net.Sockets.AddressFamily family);

    /// <summary>Binds a relay socket; null when the port is taken.</summary>
    IRelaySocket? TryBind(IPEndPoint endPoint);

    /// <summary>Sends a message to a client on the transport it came over (framed as is for TCP).</summary>
    void SendToClient(TurnClient client, ReadOnlySpan<byte> message);
}
