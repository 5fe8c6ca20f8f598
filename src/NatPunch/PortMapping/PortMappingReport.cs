using System.Net;

namespace NatPunch.PortMapping;

/// <summary>What the gateway said about port mapping: its address (null: no IPv4 default gateway) and one probe per protocol.</summary>
public sealed record PortMappingReport(IPAddress? Gateway, IReadOnlyList<GatewayProbe> Probes)
{
    public GatewayProbe For(PortMappingProtocol protocol) =>
        Probes.FirstOrDefault(p => p.Protocol == protocol) ?? GatewayProbe.No(protocol, "not asked");

    /// <summary>The first external address any protocol reported.</summary>
    public IPAddress? ExternalAddress => Probes.Select(p => p.ExternalAddress).FirstOrDefault(a => a is not null);

    /// <summary>Asks the default gateway (or none) which protocols it speaks.</summary>
    public static async Task<PortMappingReport> ProbeAsync(CancellationToken cancellationToken)
    {
        await using var mapper = new PortMapper();
        return new PortMappingReport(mapper.Route?.Gateway, await mapper.ProbeAsync(cancellationToken).ConfigureAwait(false));
    }
}
