using System.Net;
using NatPunch.Server.Turn;
using Prometheus;

namespace NatPunch.Server.Hosting;

/// <summary>
/// The server's counters and state as Prometheus metrics (docs/metrics.md lists each): STUN
/// requests and drops, TCP connections, every refusal by kind, the rendezvous' connections, names
/// and sessions, and the relay's allocations, relayed datagrams and bytes, drops and refusals; plus
/// the runtime's own (process CPU, memory, GC). Values are read from the server when Prometheus
/// scrapes, so the hot paths pay nothing for them. <see cref="Serve"/> answers
/// <c>GET /metrics</c> on an address of its own (<c>natpunch server --metrics IP:PORT</c>).
/// </summary>
public sealed class PrometheusMetrics : IDisposable
{
    private readonly NatPunchServer _server;
    private readonly Counter _stunRequests, _stunResponses, _stunDropped, _sendErrors, _tcpAccepted, _tcpRejected, _tlsHandshakes, _refusals;
    private readonly Gauge _tcpOpen, _rendezvousConnections, _rendezvousNames, _rendezvousSessions;
    private readonly Counter? _turnRequests, _turnErrors, _turnAuthFailures, _turnMalformed, _turnAllocationsCreated, _turnDatagrams, _turnBytes,
        _turnDropped, _turnQuotaRefusals, _turnPermissionRefusals;
    private readonly Gauge? _turnAllocations, _turnRevokedGrants;
    private IMetricServer? _http;

    public PrometheusMetrics(NatPunchServer server)
    {
        _server = server;
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        MetricFactory metrics = Metrics.WithCustomRegistry(Registry);
        _stunRequests = metrics.CreateCounter("natpunch_stun_requests_total", "STUN messages received over UDP and TCP (TURN excluded).");
        _stunResponses = metrics.CreateCounter("natpunch_stun_responses_total", "STUN responses sent.");
        _stunDropped = metrics.CreateCounter("natpunch_stun_dropped_total", "STUN messages dropped unanswered, by reason.", "reason");
        _sendErrors = metrics.CreateCounter("natpunch_send_errors_total", "UDP sends that failed.");
        _tcpAccepted = metrics.CreateCounter("natpunch_tcp_connections_accepted_total", "TCP connections accepted (STUN, TURN and rendezvous).");
        _tcpRejected = metrics.CreateCounter("natpunch_tcp_connections_rejected_total", "TCP connections closed at once because the global cap was reached.");
        _tcpOpen = metrics.CreateGauge("natpunch_tcp_connections_open", "TCP connections open now.");
        _tlsHandshakes = metrics.CreateCounter("natpunch_tls_handshakes_total", "TLS handshakes, by result.", "result");
        _refusals = metrics.CreateCounter("natpunch_refusals_total", "Clients refused or cut off by a limit (docs/limits.md), by kind.", "kind");
        _rendezvousConnections = metrics.CreateGauge("natpunch_rendezvous_connections", "Rendezvous connections open now.");
        _rendezvousNames = metrics.CreateGauge("natpunch_rendezvous_names", "Names registered now.");
        _rendezvousSessions = metrics.CreateGauge("natpunch_rendezvous_sessions", "Sessions (introduced pairs) held now, including those waiting for an end to resume.");
        if (server.Turn is not null)
        {
            _turnAllocations = metrics.CreateGauge("natpunch_turn_allocations", "TURN allocations now.");
            _turnAllocationsCreated = metrics.CreateCounter("natpunch_turn_allocations_created_total", "TURN allocations made.");
            _turnRequests = metrics.CreateCounter("natpunch_turn_requests_total", "TURN requests received.");
            _turnErrors = metrics.CreateCounter("natpunch_turn_errors_total", "TURN requests answered with an error (401 challenges included).");
            _turnAuthFailures = metrics.CreateCounter("natpunch_turn_auth_failures_total", "TURN requests with wrong or unknown credentials.");
            _turnMalformed = metrics.CreateCounter("natpunch_turn_malformed_total", "TURN messages that did not parse.");
            _turnDatagrams = metrics.CreateCounter("natpunch_turn_relayed_datagrams_total", "Datagrams relayed, by direction.", "direction");
            _turnBytes = metrics.CreateCounter("natpunch_turn_relayed_bytes_total", "Payload bytes relayed, by direction.", "direction");
            _turnDropped = metrics.CreateCounter("natpunch_turn_dropped_total",
                "Relay datagrams dropped, by reason: no allocation, permission or channel (unroutable), over a bandwidth limit, a full send buffer, a full TCP queue.", "reason");
            _turnQuotaRefusals = metrics.CreateCounter("natpunch_turn_quota_refusals_total", "Allocations refused with 486 (per user, per source or in total).");
            _turnPermissionRefusals = metrics.CreateCounter("natpunch_turn_permission_refusals_total", "Permissions refused with 508 (per allocation).");
            _turnRevokedGrants = metrics.CreateGauge("natpunch_turn_revoked_grants", "Grants whose registration ended and that have not expired yet.");
        }
        Registry.AddBeforeCollectCallback(Update);
    }

    /// <summary>The registry the metrics live in (a scrape collects it).</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Serves <c>GET /metrics</c> on <paramref name="listen"/> (a wildcard address serves every interface).</summary>
    public void Serve(IPEndPoint listen)
    {
        string host = listen.Address.Equals(IPAddress.Any) || listen.Address.Equals(IPAddress.IPv6Any) ? "+"
            : listen.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString();
        _http = new MetricServer(host, listen.Port, "metrics/", Registry).Start();
    }

    /// <summary>The metrics as Prometheus text, as a scrape gets them.</summary>
    public async Task<string> ExportAsync(CancellationToken cancellationToken = default)
    {
        using var text = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(text, cancellationToken).ConfigureAwait(false);
        return System.Text.Encoding.UTF8.GetString(text.ToArray());
    }

    private void Update()
    {
        ServerCounters counters = _server.Counters;
        _stunRequests.IncTo(counters.Requests);
        _stunResponses.IncTo(counters.Responses);
        _stunDropped.WithLabels("malformed").IncTo(counters.Malformed);
        _stunDropped.WithLabels("bad_fingerprint").IncTo(counters.BadFingerprint);
        _stunDropped.WithLabels("not_a_request").IncTo(counters.NotRequests);
        _stunDropped.WithLabels("change_not_possible").IncTo(counters.ChangeNotPossible);
        _sendErrors.IncTo(counters.SendErrors);
        _tcpAccepted.IncTo(counters.TcpConnections);
        _tcpRejected.IncTo(counters.TcpRejected);
        _tcpOpen.Set(_server.OpenTcpConnections);
        _tlsHandshakes.WithLabels("ok").IncTo(counters.TlsHandshakes);
        _tlsHandshakes.WithLabels("failed").IncTo(counters.TlsHandshakeFailures);
        _tlsHandshakes.WithLabels("not_offered").IncTo(counters.TlsNotOffered);
        foreach (ServerRefusal kind in Enum.GetValues<ServerRefusal>())
        {
            _refusals.WithLabels(kind.ToString()).IncTo(counters.Refusals(kind));
        }
        (int connections, int names, int sessions) = _server.Rendezvous;
        _rendezvousConnections.Set(connections);
        _rendezvousNames.Set(names);
        _rendezvousSessions.Set(sessions);
        if (_server.Turn is { } turn)
        {
            TurnStatistics relay = turn.Statistics();
            _turnAllocations!.Set(relay.Allocations);
            _turnAllocationsCreated!.IncTo(relay.AllocationsCreated);
            _turnRequests!.IncTo(relay.Requests);
            _turnErrors!.IncTo(relay.Errors);
            _turnAuthFailures!.IncTo(relay.AuthFailures);
            _turnMalformed!.IncTo(relay.Malformed);
            _turnDatagrams!.WithLabels("to_peer").IncTo(relay.DatagramsToPeers);
            _turnDatagrams.WithLabels("to_client").IncTo(relay.DatagramsToClients);
            _turnBytes!.WithLabels("to_peer").IncTo(relay.BytesToPeers);
            _turnBytes.WithLabels("to_client").IncTo(relay.BytesToClients);
            _turnDropped!.WithLabels("unroutable").IncTo(relay.Dropped);
            _turnDropped.WithLabels("bandwidth").IncTo(relay.BandwidthDrops);
            _turnDropped.WithLabels("send_buffer").IncTo(relay.UdpSendDrops);
            _turnDropped.WithLabels("tcp_queue").IncTo(relay.TcpQueueDrops);
            _turnQuotaRefusals!.IncTo(relay.QuotaRefusals);
            _turnPermissionRefusals!.IncTo(relay.PermissionRefusals);
            _turnRevokedGrants!.Set(_server.TurnGrants?.Revoked.Count ?? 0);
        }
    }

    public void Dispose() => _http?.Dispose();
}
