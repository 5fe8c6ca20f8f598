namespace NatPunch.Server;

/// <summary>
/// Why the server turned a client away or cut it off to protect itself: each kind is counted
/// (<see cref="ServerCounters.Refusals"/>) and logged at most once per interval with how many
/// more there were (docs/limits.md lists each limit, its default and its option).
/// </summary>
public enum ServerRefusal
{
    /// <summary>The source address (IPv4, or an IPv6 /64) holds as many TCP connections as it may.</summary>
    TcpConnectionsPerAddress,

    /// <summary>A TCP client sent nothing within the handshake timeout.</summary>
    TcpHandshakeTimeout,

    /// <summary>A TCP client began a message and did not finish it in time (a minimum data rate, against slowloris).</summary>
    TcpSlowMessage,

    /// <summary>A rendezvous connection did not register within its time.</summary>
    RendezvousRegisterTimeout,

    /// <summary>A rendezvous frame was larger than the limit.</summary>
    RendezvousFrameTooLarge,

    /// <summary>A rendezvous client sent messages faster than its rate allows.</summary>
    RendezvousMessageRate,

    /// <summary>A source tried to register more often than its rate allows.</summary>
    RendezvousRegisterRate,
}
