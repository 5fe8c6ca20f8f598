namespace NatPunch.PortMapping;

/// <summary>A gateway refused a mapping, or did not answer; the message says which protocol and why.</summary>
public sealed class PortMappingException(PortMappingProtocol protocol, string reason)
    : Exception($"{protocol.ToWire()}: {reason}")
{
    public PortMappingProtocol Protocol { get; } = protocol;

    /// <summary>Why, without the protocol's name in front.</summary>
    public string Reason { get; } = reason;
}
