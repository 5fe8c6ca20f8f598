using System.Net;

namespace NatPunch.PortMapping;

/// <summary>
/// Whether the gateway speaks one protocol: <see cref="Speaks"/>, the external address it reported
/// (null if it did not say), and when it does not, why (no answer, an error code).
/// </summary>
public sealed record GatewayProbe(PortMappingProtocol Protocol, bool Speaks, IPAddress? ExternalAddress, string? Reason)
{
    public static GatewayProbe No(PortMappingProtocol protocol, string reason) => new(protocol, false, null, reason);
}
