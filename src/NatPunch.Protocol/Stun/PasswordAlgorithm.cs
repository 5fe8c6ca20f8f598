namespace NatPunch.Protocol.Stun;

/// <summary>Algorithms for the long-term credential key (RFC 8489 §18.5).</summary>
public enum PasswordAlgorithm : ushort
{
    Md5 = 0x0001,
    Sha256 = 0x0002,
}
