namespace NatPunch.Protocol.Stun;

/// <summary>
/// Attribute type numbers. Values below 0x8000 are comprehension-required, the rest
/// comprehension-optional (RFC 8489 §14, §18.3).
/// </summary>
public static class StunAttributeType
{
    // RFC 8489 §18.3.1 comprehension-required
    public const ushort MappedAddress = 0x0001;
    /// <summary>RFC 3489 §11.2.2; reserved by RFC 5389, still sent to RFC 3489 clients.</summary>
    public const ushort ResponseAddress = 0x0002;
    /// <summary>RFC 5780 §7.2 (was RFC 3489 §11.2.4).</summary>
    public const ushort ChangeRequest = 0x0003;
    /// <summary>RFC 3489 §11.2.5: where the response was sent from (RFC 5780 uses RESPONSE-ORIGIN).</summary>
    public const ushort SourceAddress = 0x0004;
    /// <summary>RFC 3489 §11.2.3: the alternate address and port (RFC 5780 uses OTHER-ADDRESS).</summary>
    public const ushort ChangedAddress = 0x0005;
    public const ushort Username = 0x0006;
    public const ushort MessageIntegrity = 0x0008;
    public const ushort ErrorCode = 0x0009;
    public const ushort UnknownAttributes = 0x000A;
    public const ushort Realm = 0x0014;
    public const ushort Nonce = 0x0015;
    public const ushort MessageIntegritySha256 = 0x001C;
    public const ushort PasswordAlgorithm = 0x001D;
    public const ushort UserHash = 0x001E;
    public const ushort XorMappedAddress = 0x0020;

    // RFC 8656 §18 (TURN) and RFC 6062 §6.2 (TURN-TCP), comprehension-required
    public const ushort ChannelNumber = 0x000C;
    public const ushort Lifetime = 0x000D;
    public const ushort XorPeerAddress = 0x0012;
    public const ushort Data = 0x0013;
    public const ushort XorRelayedAddress = 0x0016;
    public const ushort RequestedAddressFamily = 0x0017;
    public const ushort EvenPort = 0x0018;
    public const ushort RequestedTransport = 0x0019;
    public const ushort DontFragment = 0x001A;
    public const ushort ReservationToken = 0x0022;
    public const ushort ConnectionId = 0x002A;

    // RFC 5780 §7 comprehension-required
    public const ushort Padding = 0x0026;
    public const ushort ResponsePort = 0x0027;

    // RFC 8445 §16.1 (ICE), comprehension-required
    public const ushort Priority = 0x0024;
    public const ushort UseCandidate = 0x0025;

    // RFC 8489 §18.3.2 comprehension-optional
    public const ushort PasswordAlgorithms = 0x8002;
    public const ushort AlternateDomain = 0x8003;
    public const ushort Software = 0x8022;
    public const ushort AlternateServer = 0x8023;
    public const ushort Fingerprint = 0x8028;

    // RFC 8656 comprehension-optional
    public const ushort AdditionalAddressFamily = 0x8000;
    public const ushort AddressErrorCode = 0x8001;
    public const ushort Icmp = 0x8004;

    // RFC 5780 §7 comprehension-optional
    public const ushort ResponseOrigin = 0x802B;
    public const ushort OtherAddress = 0x802C;

    // RFC 8445 §16.1 comprehension-optional
    public const ushort IceControlled = 0x8029;
    public const ushort IceControlling = 0x802A;

    /// <summary>True for types 0x0000–0x7FFF, which an agent must understand (RFC 8489 §14).</summary>
    public static bool IsComprehensionRequired(ushort type) => type < 0x8000;

    /// <summary>True when NatPunch understands this comprehension-required attribute.</summary>
    public static bool IsUnderstood(ushort type) => type switch
    {
        MappedAddress or ResponseAddress or ChangeRequest or SourceAddress or ChangedAddress
            or Username or MessageIntegrity or ErrorCode or UnknownAttributes or Realm or Nonce
            or MessageIntegritySha256 or PasswordAlgorithm or UserHash or XorMappedAddress
            or ChannelNumber or Lifetime or XorPeerAddress or Data or XorRelayedAddress
            or RequestedAddressFamily or EvenPort or RequestedTransport or DontFragment
            or ReservationToken or ConnectionId or Padding or ResponsePort or Priority
            or UseCandidate => true,
        _ => !IsComprehensionRequired(type),
    };

    /// <summary>A short name for logs and diagnostics.</summary>
    public static string Name(ushort type) => type switch
    {
        MappedAddress => "MAPPED-ADDRESS",
        ResponseAddress => "RESPONSE-ADDRESS",
        ChangeRequest => "CHANGE-REQUEST",
        SourceAddress => "SOURCE-ADDRESS",
        ChangedAddress => "CHANGED-ADDRESS",
        Username => "USERNAME",
        MessageIntegrity => "MESSAGE-INTEGRITY",
        ErrorCode => "ERROR-CODE",
        UnknownAttributes => "UNKNOWN-ATTRIBUTES",
        Realm => "REALM",
        Nonce => "NONCE",
        MessageIntegritySha256 => "MESSAGE-INTEGRITY-SHA256",
        PasswordAlgorithm => "PASSWORD-ALGORITHM",
        UserHash => "USERHASH",
        XorMappedAddress => "XOR-MAPPED-ADDRESS",
        ChannelNumber => "CHANNEL-NUMBER",
        Lifetime => "LIFETIME",
        XorPeerAddress => "XOR-PEER-ADDRESS",
        Data => "DATA",
        XorRelayedAddress => "XOR-RELAYED-ADDRESS",
        RequestedAddressFamily => "REQUESTED-ADDRESS-FAMILY",
        EvenPort => "EVEN-PORT",
        RequestedTransport => "REQUESTED-TRANSPORT",
        DontFragment => "DONT-FRAGMENT",
        ReservationToken => "RESERVATION-TOKEN",
        ConnectionId => "CONNECTION-ID",
        Padding => "PADDING",
        ResponsePort => "RESPONSE-PORT",
        Priority => "PRIORITY",
        UseCandidate => "USE-CANDIDATE",
        PasswordAlgorithms => "PASSWORD-ALGORITHMS",
        AlternateDomain => "ALTERNATE-DOMAIN",
        Software => "SOFTWARE",
        AlternateServer => "ALTERNATE-SERVER",
        Fingerprint => "FINGERPRINT",
        AdditionalAddressFamily => "ADDITIONAL-ADDRESS-FAMILY",
        AddressErrorCode => "ADDRESS-ERROR-CODE",
        Icmp => "ICMP",
        ResponseOrigin => "RESPONSE-ORIGIN",
        OtherAddress => "OTHER-ADDRESS",
        IceControlled => "ICE-CONTROLLED",
        IceControlling => "ICE-CONTROLLING",
        _ => $"0x{type:X4}",
    };
}
