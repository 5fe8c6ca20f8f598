using System.Net;
using System.Security.Cryptography;
using NatPunch.Protocol.PortMapping;

namespace NatPunch.PortMapping;

/// <summary>PCP (RFC 6887) to the default gateway: ANNOUNCE to probe, MAP to open, renew (same nonce) and delete (lifetime 0).</summary>
internal sealed class PcpClient(GatewayRoute route, TimeProvider time) : IPortMappingClient
{
    private readonly IPEndPoint _server = new(route.Gateway, route.Ports.PortControl);

    public PortMappingProtocol Protocol => PortMappingProtocol.Pcp;

    public async Task<GatewayProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        PcpResponse? answer = await RequestAsync(PcpMessage.AnnounceRequest(route.Local), PcpMessage.OpAnnounce, null, cancellationToken).ConfigureAwait(false);
        return answer switch
        {
            null => GatewayProbe.No(Protocol, "no answer on UDP port 5351"),
            { Version: 0 } => GatewayProbe.No(Protocol, "the gateway speaks NAT-PMP only"),
            { Result: PcpResult.Success } => new GatewayProbe(Protocol, true, null, null),
            { } other => GatewayProbe.No(Protocol, $"ANNOUNCE answered {other.Result}"),
        };
    }

    public async Task<PortMappingLease> MapAsync(int internalPort, TimeSpan lifetime, PortMappingLease? renewing, CancellationToken cancellationToken)
    {
        byte[] nonce = renewing?.State as byte[] ?? RandomNumberGenerator.GetBytes(PcpMessage.NonceLength);
        ushort suggested = (ushort)(renewing?.External.Port ?? internalPort);
        byte[] request = PcpMessage.MapRequest(nonce, PcpMessage.ProtocolUdp, route.Local, (ushort)internalPort, suggested,
            renewing?.External.Address, (uint)lifetime.TotalSeconds);
        PcpResponse answer = await RequestAsync(request, PcpMessage.OpMap, nonce, cancellationToken).ConfigureAwait(false)
            ?? throw new PortMappingException(Protocol, $"no answer to MAP from {_server}");
        if (answer.Version == 0)
        {
            throw new PortMappingException(Protocol, "the gateway speaks NAT-PMP only");
        }
        if (answer.Result != PcpResult.Success || answer.ExternalAddress is null)
        {
            throw new PortMappingException(Protocol, $"MAP refused: {answer.Result}");
        }
        TimeSpan granted = TimeSpan.FromSeconds(answer.LifetimeSeconds);
        return new PortMappingLease(Protocol, new IPEndPoint(answer.ExternalAddress, answer.ExternalPort), internalPort, granted, time.GetUtcNow() + granted)
        {
            State = nonce,
        };
    }

    public async Task RemoveAsync(PortMappingLease lease, CancellationToken cancellationToken)
    {
        if (lease.State is byte[] nonce)
        {
            byte[] request = PcpMessage.MapRequest(nonce, PcpMessage.ProtocolUdp, route.Local, (ushort)lease.InternalPort, 0, null, 0);
            await RequestAsync(request, PcpMessage.OpMap, nonce, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<PcpResponse?> RequestAsync(byte[] request, byte opcode, byte[]? nonce, CancellationToken cancellationToken) =>
        GatewayUdpExchange.RequestAsync<PcpResponse>(route.Local, _server, request, datagram =>
            PcpMessage.TryParseResponse(datagram.Span, opcode, out PcpResponse response)
            && (nonce is null || response.Nonce is null || response.Nonce.AsSpan().SequenceEqual(nonce))
                ? response
                : null,
            cancellationToken);
}
