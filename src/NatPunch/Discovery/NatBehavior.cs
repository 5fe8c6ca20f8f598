namespace NatPunch.Discovery;

/// <summary>
/// How a NAT maps (RFC 4787 §4.1, tested per RFC 5780 §4.3) or filters (RFC 4787 §5, tested per
/// RFC 5780 §4.4) UDP: by the internal endpoint alone, or also by the remote address, or by the
/// remote address and port.
/// </summary>
public enum NatBehavior : byte
{
    /// <summary>Could not be determined; the report gives the reason.</summary>
    Unknown,
    /// <summary>Mapping: the same public endpoint for every destination. Filtering: anyone may send in.</summary>
    EndpointIndependent,
    /// <summary>Mapping: one public endpoint per destination IP. Filtering: only IPs the host sent to.</summary>
    AddressDependent,
    /// <summary>Mapping: one public endpoint per destination IP and port. Filtering: only exact IP:port pairs the host sent to.</summary>
    AddressAndPortDependent,
}
