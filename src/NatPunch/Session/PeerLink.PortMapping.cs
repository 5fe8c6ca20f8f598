using NatPunch.PortMapping;

namespace NatPunch.Session;

internal sealed partial class PeerLink
{
    private PortMapper? _portMapper;

    /// <summary>
    /// Asks the default gateway to map this link's UDP port (PCP, then NAT-PMP, then UPnP-IGD) and
    /// offers the external address as a candidate once it is mapped, and again when a renewal moves
    /// it, unless that address is not public (a gateway behind another NAT). The mapping is kept for
    /// the life of the link and removed when it is disposed. A gateway that maps nothing costs a few
    /// datagrams to it and an SSDP search, in the background.
    /// </summary>
    /// <param name="unavailable">Called when no protocol mapped the port.</param>
    public void StartPortMapping(IProgress<ConnectionProgress>? progress, Action? unavailable = null)
    {
        var mapper = new PortMapper(time: _time == TimeProvider.System ? null : _time);
        if (mapper.Route is null || Interlocked.CompareExchange(ref _portMapper, mapper, null) is not null)
        {
            _ = mapper.DisposeAsync().AsTask();
            return;
        }
        mapper.Changed += lease =>
        {
            if (lease is null)
            {
                return;
            }
            progress?.Report(new ConnectionProgress.PortMapped(lease.Protocol.ToWire(), lease.External, lease.Lifetime, lease.BehindAnotherNat));
            // A private or zero "external" address (the gateway is behind another NAT) is no use to a peer on the internet.
            if (!lease.BehindAnotherNat)
            {
                _loop.TryPost(() => _session.AddMappedCandidate(lease.External, Now));
            }
        };
        _ = MapAsync(mapper, progress, unavailable);
    }

    private async Task MapAsync(PortMapper mapper, IProgress<ConnectionProgress>? progress, Action? unavailable)
    {
        try
        {
            if (await mapper.MapUdpAsync(LocalEndPoint.Port, _stopping.Token).ConfigureAwait(false) is null)
            {
                progress?.Report(new ConnectionProgress.PortMappingUnavailable(string.Join("; ", mapper.Failures)));
                unavailable?.Invoke();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // The link closed first.
        }
    }

    private async Task StopPortMappingAsync()
    {
        if (Interlocked.Exchange(ref _portMapper, null) is { } mapper)
        {
            await mapper.DisposeAsync().ConfigureAwait(false);
        }
    }
}
