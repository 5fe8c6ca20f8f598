namespace NatPunch.Protocol.Stun;

/// <summary>Fixed numbers of the STUN wire format (RFC 8489 §5).</summary>
public static class StunConstants
{
    /// <summary>The magic cookie that marks an RFC 5389/8489 message (RFC 8489 §5).</summary>
    public const uint MagicCookie = 0x2112A442;

    /// <summary>Every STUN message starts with a 20-byte header (RFC 8489 §5).</summary>
    public const int HeaderLength = 20;

    /// <summary>Type-length header in front of each attribute value (RFC 8489 §14).</summary>
    public const int AttributeHeaderLength = 4;

    /// <summary>The XOR constant of the FINGERPRINT attribute, "STUN" in ASCII (RFC 8489 §14.7).</summary>
    public const uint FingerprintXor = 0x5354554E;

    /// <summary>Length of the HMAC-SHA1 in MESSAGE-INTEGRITY (RFC 8489 §14.5).</summary>
    public const int MessageIntegrityLength = 20;

    /// <summary>Length of a full HMAC-SHA256 in MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).</summary>
    public const int MessageIntegritySha256Length = 32;

    /// <summary>Default STUN/TURN port for UDP and TCP (RFC 8489 §9).</summary>
    public const int DefaultPort = 3478;

    /// <summary>Largest message a STUN agent needs to handle; UDP datagrams are smaller still.</summary>
    public const int MaxMessageLength = 65535 + HeaderLength;
}
