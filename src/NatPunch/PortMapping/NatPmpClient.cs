using System.Net;
using NatPunch.Protocol.PortMapping;

namespace NatPunch.PortMapping;

/// <summary>NAT-PMP (RFC 6886) to the default gateway: the external address, then a UDP mapping, renewed by asking again.</summary>
internal sealed class NatPmpClient(GatewayRoute route, TimeProvider time) : IPortMappingClient
{
    private readonly IPEndPoint _server = new(route.Gateway, route.Ports.PortControl);

    public PortMappingProtocol Protocol => PortMappingProtocol.NatPmp;

    public async Task<GatewayProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        NatPmpResponse? answer = await RequestAsync(NatPmpMessage.ExternalAddressRequest(), NatPmpMessage.OpExternalAddress, cancellationToken)
            .ConfigureAwait(false);
        return answer switch
        {
            null => GatewayProbe.No(Protocol, "no answer on UDP port 5351"),
            { Result: NatPmpResult.Success } ok => new GatewayProbe(Protocol, true, ok.ExternalAddress, null),
            { } other => GatewayProbe.No(Protocol, $"external address request answered {other.Result}"),
        };
    }

    public async Task<PortMappingLease> MapAsync(int internalPort, TimeSpan lifetime, PortMappingLease? renewing, CancellationToken cancellationToken)
    {
        NatPmpResponse external = await RequestAsync(NatPmpMessage.ExternalAddressRequest(), NatPmpMessage.OpExternalAddress, cancellationToken)
            .ConfigureAwait(false) ?? throw new PortMappingException(Protocol, $"no answer from {_server}");
        if (external.Result != NatPmpResult.Success || external.ExternalAddress is null)
        {
            throw new PortMappingException(Protocol, $"external address request refused: {external.Result}");
        }
        ushort suggested = (ushort)(renewing?.External.Port ?? internalPort);
        byte[] request = NatPmpMessage.MapRequest(udp: true, (ushort)internalPort, suggested, (uint)lifetime.TotalSeconds);
        NatPmpResponse answer = await RequestAsync(request, NatPmpMessage.OpMapUdp, cancellationToken).ConfigureAwait(false)
            ?? throw new PortMappingException(Protocol, $"no answer to the mapping request from {_server}");
        if (answer.Result != NatPmpResult.Success)
        {
            throw new PortMappingException(Protocol, $"mapping refused: {answer.Result}");
        }
        TimeSpan granted = TimeSpan.FromSeconds(answer.LifetimeSeconds);
        return new PortMappingLease(Protocol, new IPEndPoint(external.ExternalAddress, answer.ExternalPort), internalPort, granted, time.GetUtcNow() + granted);
    }

    public Task RemoveAsync(PortMappingLease lease, CancellationToken cancellationToken) =>
        RequestAsync(NatPmpMessage.MapRequest(udp: true, (ushort)lease.InternalPort, 0, 0), NatPmpMessage.OpMapUdp, cancellationToken);

    private Task<NatPmpResponse?> RequestAsync(byte[] request, byte opcode, CancellationToken cancellationToken) =>
        GatewayUdpExchange.RequestAsync<NatPmpResponse>(route.Local, _server, request, datagram =>
            NatPmpMessage.TryParseResponse(datagram.Span, opcode, out NatPmpResponse response) ? response : null,
            cancellationToken);
}
