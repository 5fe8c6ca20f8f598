namespace NatPunch.PortMapping;

/// <summary>A gateway refused a mapping, or did not answer; the message says which protocol and why.</summary>
public sealed class PortMappingException(PortMappingProtocol protocol, string message)
    : Exception($"{protocol.ToWire()}: {message}")
{
    public PortMappingProtocol Protocol { get; } = protocol;
}
