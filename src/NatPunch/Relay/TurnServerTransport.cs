namespace NatPunch.Relay;

/// <summary>How a <see cref="TurnClient"/> reaches its TURN server (the relayed transport is always UDP).</summary>
public enum TurnServerTransport
{
    /// <summary>UDP datagrams (RFC 8656 §3.1).</summary>
    Udp,
    /// <summary>One TCP connection with RFC 8489 §6.2.2 framing and padded ChannelData (RFC 8656 §12.5).</summary>
    Tcp,
}
