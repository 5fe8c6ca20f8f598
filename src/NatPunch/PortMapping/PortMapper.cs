namespace NatPunch.PortMapping;

/// <summary>
/// Asks the default gateway to open an inbound UDP port for one local port: PCP, then NAT-PMP, then
/// UPnP-IGD, the first that maps. Then keeps the mapping: renews it half way through its lease
/// (with the same client and, where the protocol has one, the same identity, so the external port
/// stays), maps afresh when a renewal fails, and removes it on dispose. <see cref="Changed"/> says
/// when the external address appears, moves or goes.
/// </summary>
public sealed class PortMapper : IAsyncDisposable
{
    /// <summary>Two hours: RFC 6886 §3.3's recommendation; renewed at half of what the gateway grants.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(2);
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan LongestRetry = TimeSpan.FromMinutes(30);

    private readonly IReadOnlyList<IPortMappingClient> _clients;
    private readonly TimeProvider _time;
    private readonly TimeSpan _lifetime;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private IPortMappingClient? _holder;
    private PortMappingLease? _current;
    private Task? _keeper;
    private int _disposed;

    /// <param name="route">The gateway to ask; null: <see cref="GatewayRoute.Find"/> (no gateway, no mapping).</param>
    /// <param name="protocols">Which protocols, in the order to try; null: all, PCP first.</param>
    public PortMapper(GatewayRoute? route = null, TimeSpan? lifetime = null, TimeProvider? time = null, IReadOnlyList<PortMappingProtocol>? protocols = null)
    {
        _time = time ?? TimeProvider.System;
        _lifetime = lifetime ?? DefaultLifetime;
        Route = route ?? GatewayRoute.Find();
        _clients = Route is { } r ? [.. (protocols ?? Enum.GetValues<PortMappingProtocol>()).Distinct().Select(p => NewClient(p, r, _time))] : [];
    }

    private static IPortMappingClient NewClient(PortMappingProtocol protocol, GatewayRoute route, TimeProvider time) => protocol switch
    {
        PortMappingProtocol.Pcp => new PcpClient(route, time),
        PortMappingProtocol.NatPmp => new NatPmpClient(route, time),
        _ => new UpnpClient(route, time),
    };

    public GatewayRoute? Route { get; }

    /// <summary>The mapping in force, or null.</summary>
    public PortMappingLease? Current
    {
        get { lock (_gate) { return _current; } }
    }

    /// <summary>Why each protocol did not map, the last time all were tried.</summary>
    public IReadOnlyList<string> Failures { get; private set; } = [];

    /// <summary>The mapping appeared, moved, or went (null). Raised on a pool thread.</summary>
    public event Action<PortMappingLease?>? Changed;

    /// <summary>The gateway renewed the mapping (whether or not it moved). Raised on a pool thread.</summary>
    public event Action<PortMappingLease>? Renewed;

    /// <summary>Which of the three protocols the gateway speaks, asked at once (about 1.75 s at most without answers).</summary>
    public async Task<IReadOnlyList<GatewayProbe>> ProbeAsync(CancellationToken cancellationToken)
    {
        if (Route is null)
        {
            return [.. Enum.GetValues<PortMappingProtocol>().Select(p => GatewayProbe.No(p, "no IPv4 default gateway"))];
        }
        return await Task.WhenAll(_clients.Select(c => c.ProbeAsync(cancellationToken))).ConfigureAwait(false);
    }

    /// <summary>
    /// Maps UDP <paramref name="internalPort"/> and keeps it mapped until disposed; null when no
    /// protocol mapped it (<see cref="Failures"/> says why). Call once.
    /// </summary>
    public async Task<PortMappingLease?> MapUdpAsync(int internalPort, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        PortMappingLease? lease = await MapWithAnyAsync(internalPort, linked.Token).ConfigureAwait(false);
        _keeper = KeepAsync(internalPort, _stop.Token);
        return lease;
    }

    /// <summary>Stops renewing and asks the gateway to remove the mapping (best effort, 2 s at most).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_keeper is not null)
        {
            await _keeper.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        (IPortMappingClient? holder, PortMappingLease? lease) = Take();
        if (holder is not null && lease is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await holder.RemoveAsync(lease, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is PortMappingException or OperationCanceledException)
            {
                // Best effort: the lease ends by itself.
            }
        }
        foreach (IDisposable disposable in _clients.OfType<IDisposable>())
        {
            disposable.Dispose();
        }
        _stop.Dispose();
    }

    private async Task<PortMappingLease?> MapWithAnyAsync(int internalPort, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        if (Route is null)
        {
            failures.Add("no IPv4 default gateway");
        }
        foreach (IPortMappingClient client in _clients)
        {
            try
            {
                PortMappingLease lease = await client.MapAsync(internalPort, _lifetime, null, cancellationToken).ConfigureAwait(false);
                Failures = failures;
                Publish(client, lease);
                return lease;
            }
            catch (PortMappingException e)
            {
                failures.Add(e.Message);
            }
        }
        Failures = failures;
        Publish(null, null);
        return null;
    }

    /// <summary>
    /// Renews half way through each lease; after a failure, or with nothing mapped, tries every
    /// protocol again a minute later, then after 2, 4 … up to 30 minutes while nothing maps.
    /// </summary>
    private async Task KeepAsync(int internalPort, CancellationToken cancellationToken)
    {
        TimeSpan retry = FirstRetry;
        while (!cancellationToken.IsCancellationRequested)
        {
            (IPortMappingClient? holder, PortMappingLease? lease) = Peek();
            if (lease is not null)
            {
                retry = FirstRetry;
            }
            TimeSpan wait = lease is null ? retry
                : lease.Lifetime == TimeSpan.Zero ? Timeout.InfiniteTimeSpan // permanent: nothing to renew
                : lease.Lifetime / 2;
            try
            {
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
                if (holder is not null && lease is not null)
                {
                    try
                    {
                        PortMappingLease renewed = await holder.MapAsync(internalPort, _lifetime, lease, cancellationToken).ConfigureAwait(false);
                        Publish(holder, renewed);
                        Renewed?.Invoke(renewed);
                        continue;
                    }
                    catch (PortMappingException)
                    {
                        // Renewal refused (the gateway rebooted, the port went to someone else): map afresh.
                    }
                }
                if (lease is null)
                {
                    retry = retry * 2 < LongestRetry ? retry * 2 : LongestRetry;
                }
                await MapWithAnyAsync(internalPort, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private void Publish(IPortMappingClient? holder, PortMappingLease? lease)
    {
        bool moved;
        lock (_gate)
        {
            moved = !Equals(_current?.External, lease?.External);
            (_holder, _current) = (holder, lease);
        }
        if (moved)
        {
            Changed?.Invoke(lease);
        }
    }

    private (IPortMappingClient?, PortMappingLease?) Peek()
    {
        lock (_gate)
        {
            return (_holder, _current);
        }
    }

    private (IPortMappingClient?, PortMappingLease?) Take()
    {
        lock (_gate)
        {
            (IPortMappingClient? holder, PortMappingLease? lease) = (_holder, _current);
            (_holder, _current) = (null, null);
            return (holder, lease);
        }
    }
}
