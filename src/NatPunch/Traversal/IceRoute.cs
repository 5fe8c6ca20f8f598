namespace NatPunch.Traversal;

/// <summary>How a STUN message of the agent leaves or came in: the socket, our TURN allocation, or a punched TCP connection.</summary>
internal enum IceRoute
{
    Socket,
    Relay,
    Tcp,
}
