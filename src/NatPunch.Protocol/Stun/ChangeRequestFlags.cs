namespace NatPunch.Protocol.Stun;

/// <summary>Flags of CHANGE-REQUEST (RFC 5780 §7.2): answer from the other IP and/or the other port.</summary>
[Flags]
public enum ChangeRequestFlags : uint
{
    None = 0,
    ChangePort = 0x2,
    ChangeIP = 0x4,
}
