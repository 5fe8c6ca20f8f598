using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NatPunch.Protocol.PortMapping;

namespace NatPunch.PortMapping;

/// <summary>
/// UPnP-IGD: finds the gateway's WANIPConnection with SSDP (unicast to the gateway and multicast),
/// then maps with AddPortMapping over SOAP. What real gateways get wrong is tolerated: a taken port
/// (718) moves to AddAnyPortMapping or another port, a gateway that keeps only permanent leases
/// (725) gets one and loses it on exit, and an external address that is private or zero (the
/// gateway is behind another NAT) is reported as such (<see cref="PortMappingLease.BehindAnotherNat"/>).
/// </summary>
internal sealed class UpnpClient(GatewayRoute route, TimeProvider time) : IPortMappingClient, IDisposable
{
    private const string Description = "natpunch";
    private static readonly TimeSpan SearchWait = TimeSpan.FromSeconds(1.5);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(2) })
    {
        Timeout = TimeSpan.FromSeconds(3),
        // Whatever answered on the LAN may send more than a description: a real one is a few KB.
        MaxResponseContentBufferSize = 256 * 1024,
    };
    private UpnpService? _service;

    public PortMappingProtocol Protocol => PortMappingProtocol.Upnp;

    public async Task<GatewayProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            UpnpService service = await FindServiceAsync(cancellationToken).ConfigureAwait(false);
            IPAddress? external = await ExternalAddressAsync(service, cancellationToken).ConfigureAwait(false);
            return new GatewayProbe(Protocol, true, external, null);
        }
        catch (PortMappingException e)
        {
            return GatewayProbe.No(Protocol, e.Reason);
        }
    }

    public async Task<PortMappingLease> MapAsync(int internalPort, TimeSpan lifetime, PortMappingLease? renewing, CancellationToken cancellationToken)
    {
        UpnpService service = await FindServiceAsync(cancellationToken).ConfigureAwait(false);
        IPAddress external = await ExternalAddressAsync(service, cancellationToken).ConfigureAwait(false)
            ?? throw new PortMappingException(Protocol, "the gateway did not say its external address");
        int leaseSeconds = renewing is { Lifetime.Ticks: 0 } ? 0 : (int)lifetime.TotalSeconds;
        int wanted = renewing?.External.Port ?? internalPort;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            UpnpError? error = await AddPortMappingAsync(service, wanted, internalPort, leaseSeconds, cancellationToken).ConfigureAwait(false);
            if (error is null)
            {
                return Lease(external, wanted, internalPort, leaseSeconds, service);
            }
            if (error.Code == UpnpError.OnlyPermanentLeasesSupported && leaseSeconds != 0)
            {
                leaseSeconds = 0; // kept until removed on exit
                attempt--;
                continue;
            }
            if (error.Code != UpnpError.ConflictInMappingEntry)
            {
                throw new PortMappingException(Protocol, $"AddPortMapping refused: {error}");
            }
            if (service.ServiceType == UpnpDeviceDescription.WanIpConnection2
                && await AddAnyPortMappingAsync(service, wanted, internalPort, leaseSeconds, cancellationToken).ConfigureAwait(false) is int reserved)
            {
                return Lease(external, reserved, internalPort, leaseSeconds, service);
            }
            wanted = Random.Shared.Next(1024, 65536); // taken by another host: try elsewhere
        }
        throw new PortMappingException(Protocol, "AddPortMapping: every port tried is taken (718 ConflictInMappingEntry)");
    }

    public async Task RemoveAsync(PortMappingLease lease, CancellationToken cancellationToken)
    {
        if (lease.State is UpnpService service)
        {
            await CallAsync(service, "DeletePortMapping",
                [("NewRemoteHost", ""), ("NewExternalPort", Text(lease.External.Port)), ("NewProtocol", "UDP")], cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => _http.Dispose();

    private PortMappingLease Lease(IPAddress external, int port, int internalPort, int leaseSeconds, UpnpService service)
    {
        TimeSpan granted = TimeSpan.FromSeconds(leaseSeconds);
        return new PortMappingLease(Protocol, new IPEndPoint(external, port), internalPort, granted,
            leaseSeconds == 0 ? DateTimeOffset.MaxValue : time.GetUtcNow() + granted) { State = service };
    }

    private async Task<UpnpError?> AddPortMappingAsync(UpnpService service, int externalPort, int internalPort, int leaseSeconds, CancellationToken cancellationToken)
    {
        (IReadOnlyDictionary<string, string> _, UpnpError? error) = await CallAsync(service, "AddPortMapping",
            MappingArguments(externalPort, internalPort, leaseSeconds), cancellationToken).ConfigureAwait(false);
        return error;
    }

    private async Task<int?> AddAnyPortMappingAsync(UpnpService service, int externalPort, int internalPort, int leaseSeconds, CancellationToken cancellationToken)
    {
        (IReadOnlyDictionary<string, string> result, UpnpError? error) = await CallAsync(service, "AddAnyPortMapping",
            MappingArguments(externalPort, internalPort, leaseSeconds), cancellationToken).ConfigureAwait(false);
        return error is null && result.TryGetValue("NewReservedPort", out string? port) && int.TryParse(port, out int reserved) && reserved is > 0 and < 65536
            ? reserved
            : null;
    }

    /// <summary>The in-arguments AddPortMapping and AddAnyPortMapping share: a UDP mapping from any remote host to us.</summary>
    private (string, string)[] MappingArguments(int externalPort, int internalPort, int leaseSeconds) =>
    [
        ("NewRemoteHost", ""), ("NewExternalPort", Text(externalPort)), ("NewProtocol", "UDP"), ("NewInternalPort", Text(internalPort)),
        ("NewInternalClient", route.Local.ToString()), ("NewEnabled", "1"), ("NewPortMappingDescription", Description),
        ("NewLeaseDuration", Text(leaseSeconds)),
    ];

    private async Task<IPAddress?> ExternalAddressAsync(UpnpService service, CancellationToken cancellationToken)
    {
        (IReadOnlyDictionary<string, string> result, UpnpError? error) = await CallAsync(service, "GetExternalIPAddress", [], cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            throw new PortMappingException(Protocol, $"GetExternalIPAddress refused: {error}");
        }
        return result.TryGetValue("NewExternalIPAddress", out string? text) && IPAddress.TryParse(text, out IPAddress? address) ? address : null;
    }

    private async Task<(IReadOnlyDictionary<string, string> Result, UpnpError? Error)> CallAsync(UpnpService service, string action,
        (string, string)[] arguments, CancellationToken cancellationToken)
    {
        (string body, string soapAction) = UpnpSoap.Request(service.ServiceType, action, arguments);
        using var request = new HttpRequestMessage(HttpMethod.Post, service.ControlUrl)
        {
            Content = new StringContent(body, Encoding.UTF8, "text/xml"),
        };
        request.Headers.TryAddWithoutValidation("SOAPAction", soapAction);
        string answer;
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            answer = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new PortMappingException(Protocol, $"{action} to {service.ControlUrl}: {e.Message}");
        }
        if (!UpnpSoap.TryParseResponse(answer, action, out IReadOnlyDictionary<string, string> result, out UpnpError? error))
        {
            throw new PortMappingException(Protocol, $"{action} to {service.ControlUrl}: the answer is not a SOAP response");
        }
        return (result, error);
    }

    private async Task<UpnpService> FindServiceAsync(CancellationToken cancellationToken)
    {
        if (_service is { } known)
        {
            return known;
        }
        Uri location = await SearchAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new PortMappingException(Protocol, "no answer to an SSDP search for an Internet Gateway Device");
        string xml;
        try
        {
            xml = await _http.GetStringAsync(location, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new PortMappingException(Protocol, $"device description {location}: {e.Message}");
        }
        if (!UpnpDeviceDescription.TryFindPortMappingService(xml, location, out UpnpService service))
        {
            throw new PortMappingException(Protocol, $"device description {location} has no WANIPConnection or WANPPPConnection service");
        }
        _service = service;
        return service;
    }

    /// <summary>
    /// M-SEARCH to the gateway itself and to the SSDP multicast group; the first answer that names a
    /// description wins. An answer from an address other than the gateway's is taken only if no
    /// answer comes from the gateway's within the wait (another device on the LAN may answer too).
    /// </summary>
    private async Task<Uri?> SearchAsync(CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(route.Local, 0));
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 2);
        byte[] search = SsdpMessage.SearchRequest();
        await socket.SendToAsync(search, SocketFlags.None, new IPEndPoint(route.Gateway, route.Ports.Ssdp), cancellationToken).ConfigureAwait(false);
        if (route.Ports.SearchMulticast)
        {
            await socket.SendToAsync(search, SocketFlags.None, new IPEndPoint(IPAddress.Parse(SsdpMessage.MulticastAddress), SsdpMessage.Port), cancellationToken)
                .ConfigureAwait(false);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(SearchWait);
        var buffer = new byte[8192];
        Uri? fromElsewhere = null;
        try
        {
            while (true)
            {
                SocketReceiveFromResult received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token)
                    .ConfigureAwait(false);
                if (SsdpMessage.TryParseResponse(buffer.AsSpan(0, received.ReceivedBytes), out Uri location, out _))
                {
                    if (((IPEndPoint)received.RemoteEndPoint).Address.Equals(route.Gateway)
                        || (IPAddress.TryParse(location.Host, out IPAddress? host) && host.Equals(route.Gateway)))
                    {
                        return location;
                    }
                    fromElsewhere ??= location;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return fromElsewhere;
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
