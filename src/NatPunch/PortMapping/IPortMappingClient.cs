namespace NatPunch.PortMapping;

/// <summary>One port-mapping protocol spoken to one gateway.</summary>
internal interface IPortMappingClient
{
    PortMappingProtocol Protocol { get; }

    /// <summary>Whether the gateway speaks it, and its external address; never throws for a gateway's answer or silence.</summary>
    Task<GatewayProbe> ProbeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Maps UDP <paramref name="internalPort"/>, or renews <paramref name="renewing"/> (same mapping,
    /// same external port if the gateway still has it). Throws <see cref="PortMappingException"/>.
    /// </summary>
    Task<PortMappingLease> MapAsync(int internalPort, TimeSpan lifetime, PortMappingLease? renewing, CancellationToken cancellationToken);

    /// <summary>Asks the gateway to remove the mapping; best effort (the lease ends by itself anyway).</summary>
    Task RemoveAsync(PortMappingLease lease, CancellationToken cancellationToken);
}
