namespace NatPunch.Protocol.Turn;

/// <summary>Protocol numbers for REQUESTED-TRANSPORT (RFC 8656 §18.7, RFC 6062 §6.1).</summary>
public static class TurnTransport
{
    public const byte Udp = 17;
    public const byte Tcp = 6;
}
