namespace NatPunch.Protocol.Turn;

/// <summary>Values of REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.10).</summary>
public static class RequestedAddressFamily
{
    public const byte IPv4 = 0x01;
    public const byte IPv6 = 0x02;
}
