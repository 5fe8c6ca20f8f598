using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using NatPunch.Protocol.Net;
using NatPunch.Streams;
using NatPunch.Traversal;

namespace NatPunch.Cli.Peer;

/// <summary>
/// Progress of listen/connect on standard error: sentences for people, or with --json one JSON
/// object per line (the contract in DESIGN.md: "connected" and "closed" events among them).
/// </summary>
internal sealed class ProgressPrinter : IProgress<ConnectionProgress>
{
    private readonly TextWriter _error;
    private readonly bool _json;
    private readonly object _gate = new(); // one line at a time

    public ProgressPrinter(TextWriter error, bool json)
    {
        _error = error;
        _json = json;
    }

    public void Report(ConnectionProgress value)
    {
        switch (value)
        {
            case ConnectionProgress.Gathered g:
                Emit(new JsonObject
                {
                    ["event"] = "gathered",
                    ["host_candidates"] = g.HostCandidates,
                    ["srflx_candidates"] = g.ServerReflexiveCandidates,
                    ["public_address"] = g.PublicAddress?.ToString(),
                }, $"gathered {g.HostCandidates + g.ServerReflexiveCandidates} candidates ({g.HostCandidates} host, {g.ServerReflexiveCandidates} server-reflexive)"
                   + (g.PublicAddress is { } a ? $"; public address {a}" : ""));
                break;
            case ConnectionProgress.Registered r:
                Emit(new JsonObject { ["event"] = "registered", ["name"] = r.Name, ["observed"] = r.Observed },
                    $"registered as '{r.Name}' (the server sees us at {r.Observed})");
                break;
            case ConnectionProgress.RelayReady relay:
                Emit(new JsonObject
                {
                    ["event"] = "relay",
                    ["relayed"] = Format(relay.Relayed),
                    ["server"] = Format(relay.Server),
                    ["transport"] = relay.Transport,
                }, $"relay ready: {Format(relay.Relayed)} on the TURN server {Format(relay.Server)} (over {relay.Transport.ToUpperInvariant()})");
                break;
            case ConnectionProgress.RelayUnavailable unavailable:
                Emit(new JsonObject { ["event"] = "relay_unavailable", ["reason"] = unavailable.Reason }, $"no relay: {unavailable.Reason}");
                break;
            case ConnectionProgress.PortMapped mapped:
                Emit(new JsonObject
                {
                    ["event"] = "port_mapped",
                    ["protocol"] = mapped.Protocol,
                    ["external"] = Format(mapped.External),
                    ["lifetime_s"] = (long)mapped.Lifetime.TotalSeconds,
                    ["behind_another_nat"] = mapped.BehindAnotherNat,
                }, $"the gateway opened {Format(mapped.External)} for us ({mapped.Protocol}, "
                   + (mapped.Lifetime == TimeSpan.Zero ? "until we exit" : $"renewed every {mapped.Lifetime.TotalSeconds / 2:0} s") + ")"
                   + (mapped.BehindAnotherNat ? "; that address is not public: the gateway is behind another NAT" : ""));
                break;
            case ConnectionProgress.PortMappingUnavailable none:
                Emit(new JsonObject { ["event"] = "port_mapping_unavailable", ["reason"] = none.Reason }, $"no port mapping: {none.Reason}");
                break;
            case ConnectionProgress.WaitingForPeer w:
                Emit(new JsonObject { ["event"] = "waiting", ["peer"] = w.Peer },
                    w.Peer is null ? "waiting for a peer to connect" : $"asking the server for '{w.Peer}'");
                break;
            case ConnectionProgress.Introduced i:
                Emit(new JsonObject
                {
                    ["event"] = "introduced",
                    ["peer"] = i.Peer,
                    ["session"] = i.Session,
                    ["remote_candidates"] = i.RemoteCandidates,
                    ["start_in_ms"] = (long)i.StartIn.TotalMilliseconds,
                }, $"introduced to '{i.Peer}' ({i.RemoteCandidates} candidates); starting in {i.StartIn.TotalMilliseconds:0} ms");
                break;
            case ConnectionProgress.Punching p:
                // No pair yet is normal with --relay only: relayed candidates are trickled after the introduction.
                Emit(new JsonObject { ["event"] = "punching", ["pairs"] = p.Pairs }, p.Pairs == 0
                    ? "punching: no candidate pairs yet; waiting for candidates that come later (relayed ones)"
                    : $"punching: checking {p.Pairs} candidate pairs");
                break;
            case ConnectionProgress.Connected c:
                Connected(c.Path, c.Elapsed, c.PeerKey, c.RelayReason, c.Probing, c.Route, c.HeldForPeerOpening);
                break;
            case ConnectionProgress.PathLost l:
                Emit(new JsonObject { ["event"] = "path_lost", ["reason"] = l.Reason }, $"path lost: {l.Reason}");
                break;
            case ConnectionProgress.Status s:
                Emit(new JsonObject { ["event"] = "status", ["message"] = s.Message }, s.Message);
                break;
        }
    }

    public void Connected(PeerPath path, TimeSpan elapsed, Security.PeerKey? peerKey = null, string? relayReason = null, PortProbingSummary? probing = null,
        RouteToPeer? route = null, bool heldForPeerOpening = false)
    {
        var json = new JsonObject
        {
            ["event"] = "connected",
            ["path"] = path.Kind,
            ["transport"] = path.Transport,
            ["local"] = Format(path.Local),
            ["remote"] = Format(path.Remote),
            ["elapsed_ms"] = (long)elapsed.TotalMilliseconds,
            ["peer_key"] = peerKey?.ToString(),
        };
        if (relayReason is not null)
        {
            json["relay_reason"] = relayReason;
        }
        if (probing is not null)
        {
            json["probes"] = probing.ProbesSent;
            json["probe_sockets"] = probing.SocketsOpened;
        }
        if (route is not null)
        {
            json["routers_before_peer"] = route.RoutersBefore;
            json["peer_nat_answers"] = route.AnswersUnsolicited;
            json["held_for_peer_opening"] = heldForPeerOpening;
        }
        Emit(json, $"connected {(path.Direct ? "directly" : "through the relay")} over {path.Transport.ToUpperInvariant()} to {Format(path.Remote)} in {elapsed.TotalMilliseconds:0} ms ({path.CandidateTypes})"
            + (relayReason is null ? "" : $": {relayReason}")
            + (probing is null ? "" : probing.ProbesSent > 0 ? $"; {probing.ProbesSent} port probes sent" : $"; {probing.SocketsOpened} sockets opened for the peer's port probes")
            + (peerKey is null ? "" : $"; peer key {peerKey}, end-to-end encrypted"));
    }

    /// <summary>The pipe ended: bytes each way and, when known, what it took to move them (retransmissions, round trip).</summary>
    public void Closed(long bytesSent, long bytesReceived, ReliableStreamStatistics? statistics = null)
    {
        var json = new JsonObject { ["event"] = "closed", ["bytes_sent"] = bytesSent, ["bytes_received"] = bytesReceived };
        string text = $"closed: sent {bytesSent} bytes, received {bytesReceived} bytes";
        if (statistics is { } s)
        {
            json["bytes_retransmitted"] = s.BytesRetransmitted;
            json["congestion_events"] = s.CongestionEvents;
            json["retransmission_timeouts"] = s.RetransmissionTimeouts;
            json["srtt_ms"] = s.SmoothedRtt is { } srtt ? Math.Round(srtt.TotalMilliseconds, 3) : null;
            json["min_rtt_ms"] = s.MinRtt is { } min ? Math.Round(min.TotalMilliseconds, 3) : null;
            text += $"; retransmitted {s.BytesRetransmitted} bytes, {s.CongestionEvents} congestion events"
                + (s.SmoothedRtt is { } rtt ? $", smoothed RTT {rtt.TotalMilliseconds:0.###} ms" : "");
        }
        Emit(json, text);
    }

    /// <summary>
    /// A forwarded connection ended (expose and forward alike): <paramref name="identity"/> says which,
    /// then the bytes each way and the error, if any (null: both directions ended cleanly).
    /// </summary>
    public void StreamClosed(string name, Forwarding.TcpStreamBridge.Result result, params ReadOnlySpan<(string Key, JsonNode? Value)> identity)
    {
        var json = new JsonObject { ["event"] = "stream_closed" };
        foreach ((string key, JsonNode? value) in identity)
        {
            json[key] = value;
        }
        json["bytes_sent"] = result.BytesToPeer;
        json["bytes_received"] = result.BytesFromPeer;
        json["error"] = result.Error;
        Emit(json, $"{name}: closed, sent {result.BytesToPeer} bytes, received {result.BytesFromPeer}{(result.Error is null ? "" : $"; {result.Error}")}");
    }

    public void Error(string message) =>
        Emit(new JsonObject { ["event"] = "error", ["message"] = message }, $"error: {message}");

    /// <summary>One event: <paramref name="json"/> with --json, else <paramref name="text"/> as a sentence.</summary>
    public void Emit(JsonObject json, string text)
    {
        lock (_gate)
        {
            _error.WriteLine(_json ? json.ToJsonString(JsonOptions) : $"natpunch: {text}");
            _error.Flush();
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = false,
        // Names and messages stay readable ("bob's"), not \u0027-escaped; stderr is not HTML.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Format(IPEndPoint endPoint) =>
        IPv4Mapping.Unmap(endPoint).ToString();
}
