using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.Discovery.Internal;

/// <summary>
/// The NAT behaviour discovery procedure of RFC 5780 §4 as a core without I/O. It decides which
/// probes to run and what their outcomes mean; a driver runs the probes on real sockets (or a test
/// on a simulated network) and feeds back outcomes and the time.
/// <list type="bullet">
/// <item>Test I (§4.3, §4.4): a Binding request to the server, together with one over TCP so that
/// "UDP blocked" can be told from "server down". The mapped address equal to the local one means no NAT.</item>
/// <item>Mapping (§4.3): tests II (alternate IP) and III (alternate IP and port) from the same socket.</item>
/// <item>Filtering (§4.4): tests II (CHANGE-REQUEST IP and port) and III (port only), run together
/// from a second, fresh socket.</item>
/// <item>Hairpinning (§4.5): a second socket sends to the first one's mapped address — and, once its
/// own mapping is known, the first to the second's at the same time, so that a NAT that filters by
/// address and port (and so drops a one-way hairpinned packet) is not mistaken for one that cannot hairpin.</item>
/// <item>Mapping lifetime (§4.6), if asked: <see cref="MappingLifetimeSearch"/>.</item>
/// </list>
/// Without OTHER-ADDRESS in the server's answer (no RFC 5780 support) mapping and filtering are
/// reported unknown with that reason, but "no NAT" is still recognised. Everything but the
/// lifetime search ends by <see cref="NatDiscoveryOptions.Timeout"/>. Not thread-safe.
/// </summary>
internal sealed class NatDiscoveryStateMachine
{
    private readonly IPEndPoint _server;
    private readonly IPEndPoint _local;
    private readonly NatDiscoveryOptions _options;
    private readonly Dictionary<int, DiscoveryProbe> _outstanding = [];
    private readonly List<TimeSpan> _roundTripTimes = [];
    private readonly List<IPEndPoint> _publicEndPoints = [];
    private int _nextProbeId;
    private bool _started;
    private TimeSpan _startedAt;
    private TimeSpan _deadline;
    private bool _complete;
    private MappingLifetimeSearch? _lifetime;
    private string? _lifetimeNote;

    // Findings; null while undecided.
    private bool? _udp;
    private string? _udpReason;
    private StunResponse? _test1;
    private bool? _tcp;
    private string? _tcpReason;
    private IPEndPoint? _tcpMapped;
    private IPEndPoint? _other;
    private NatBehavior? _mapping;
    private string? _mappingReason;
    private IPEndPoint? _mapped2;
    private NatBehavior? _filtering;
    private string? _filteringReason;
    private ProbeOutcome? _filtering2;
    private ProbeOutcome? _filtering3;
    private bool _hairpinDecided;
    private int _hairpinProbes;
    private bool? _hairpin;
    private string? _hairpinReason;

    /// <param name="server">The server's primary address.</param>
    /// <param name="local">The primary socket's address as the server would see it without a NAT: the
    /// local IP of the route to the server and the socket's port.</param>
    public NatDiscoveryStateMachine(IPEndPoint server, IPEndPoint local, NatDiscoveryOptions options)
    {
        options.Validate();
        _server = server;
        _local = local;
        _options = options;
    }

    public bool IsComplete => _complete;

    /// <summary>Starts the run on the first call; later, applies the deadline and the lifetime search's timers.</summary>
    public DiscoveryStep Poll(TimeSpan now)
    {
        var start = new List<DiscoveryProbe>();
        if (!_started)
        {
            _started = true;
            _startedAt = now;
            _deadline = now + _options.Timeout;
            start.Add(NewProbe(ProbePurpose.BindingTest, DiscoverySockets.Primary, _server));
            if (_options.CheckTcp)
            {
                start.Add(NewProbe(ProbePurpose.TcpBinding, DiscoverySockets.None, _server));
            }
            else
            {
                _tcp = null;
                _tcpReason = "not tested";
            }
        }
        if (!MainDecided && now >= _deadline)
        {
            ApplyDeadline();
        }
        _lifetime?.Poll(now, start);
        return Step(start);
    }

    /// <summary>Takes the outcome of a probe this core started. Outcomes of abandoned probes are ignored.</summary>
    public DiscoveryStep OnProbeCompleted(int probeId, ProbeOutcome outcome, TimeSpan now)
    {
        var start = new List<DiscoveryProbe>();
        if (_complete || !_outstanding.Remove(probeId, out DiscoveryProbe? probe))
        {
            return Step(start);
        }
        RecordRoundTrip(probe, outcome);
        switch (probe.Purpose)
        {
            case ProbePurpose.BindingTest:
                OnTest1(outcome, now, start);
                break;
            case ProbePurpose.TcpBinding:
                OnTcp(outcome);
                break;
            case ProbePurpose.MappingTest2:
                OnMapping2(outcome, start);
                break;
            case ProbePurpose.MappingTest3:
                OnMapping3(outcome);
                break;
            case ProbePurpose.FilteringTest2:
                _filtering2 = outcome;
                DecideFiltering();
                break;
            case ProbePurpose.FilteringTest3:
                _filtering3 = outcome;
                DecideFiltering();
                break;
            case ProbePurpose.HairpinBind:
                OnHairpinBind(outcome, start);
                break;
            case ProbePurpose.Hairpinning:
                OnHairpin(outcome);
                break;
            case ProbePurpose.LifetimeBind or ProbePurpose.LifetimeCheck:
                _lifetime?.OnProbeCompleted(probe, outcome, now, start);
                break;
        }
        return Step(start);
    }

    /// <summary>True once every finding except the lifetime is decided.</summary>
    private bool MainDecided =>
        _udp is not null && (_tcpReason is not null || _tcp is not null)
        && _mapping is not null && _filtering is not null && (_hairpinDecided || !_options.CheckHairpinning);

    private DiscoveryStep Step(List<DiscoveryProbe> start)
    {
        foreach (DiscoveryProbe probe in start)
        {
            _outstanding[probe.Id] = probe;
        }
        if (MainDecided && (_lifetime is null || _lifetime.IsComplete))
        {
            _complete = true;
            _outstanding.Clear();
            return new DiscoveryStep(start, null, true);
        }
        TimeSpan? wakeUp = MainDecided ? null : _deadline;
        if (_lifetime?.NextWakeUp is { } lifetimeWakeUp && (wakeUp is null || lifetimeWakeUp < wakeUp))
        {
            wakeUp = lifetimeWakeUp;
        }
        return new DiscoveryStep(start, wakeUp, false);
    }

    private DiscoveryProbe NewProbe(ProbePurpose purpose, int socketId, IPEndPoint destination) =>
        new(_nextProbeId++, purpose, socketId, destination);

    private int NextProbeId() => _nextProbeId++;

    private void OnTest1(ProbeOutcome outcome, TimeSpan now, List<DiscoveryProbe> start)
    {
        if (outcome.Response is not { } response)
        {
            _udp = false;
            _udpReason = outcome.Result == ProbeResult.TimedOut
                ? "no answer to Binding requests over UDP"
                : outcome.Detail ?? "the UDP Binding request failed";
            const string why = "UDP to the server does not work";
            DecideAllUdp(why);
            _lifetimeNote = why;
            return;
        }

        _udp = true;
        _test1 = response;
        if (!response.IsSuccess || response.MappedAddress is null)
        {
            string why = response.IsSuccess
                ? "the server's answer had no mapped address"
                : $"the server answered the Binding request with error {response.ErrorCode} {response.ErrorReason}".TrimEnd();
            DecideAllUdp(why);
            _lifetimeNote = why;
            return;
        }

        IPEndPoint mapped = response.MappedAddress;
        AddPublic(mapped);
        bool noNat = mapped.Equals(_local);
        _other = response.OtherAddress is { } other && !other.Address.Equals(_server.Address) && other.Port != _server.Port
                 && other.AddressFamily == _server.AddressFamily
            ? other
            : null;
        string? no5780 = _other is null
            ? response.OtherAddress is null
                ? "the server does not support RFC 5780 (no OTHER-ADDRESS in its answer)"
                : $"the server's OTHER-ADDRESS {response.OtherAddress} is not a distinct alternate IP and port"
            : null;

        // Mapping, RFC 5780 §4.3.
        if (noNat)
        {
            _mapping = NatBehavior.EndpointIndependent;
            _mappingReason = "no NAT: the server saw this host's own address";
        }
        else if (no5780 is not null)
        {
            _mapping = NatBehavior.Unknown;
            _mappingReason = no5780;
        }
        else
        {
            start.Add(Padded(NewProbe(ProbePurpose.MappingTest2, DiscoverySockets.Primary, new IPEndPoint(_other!.Address, _server.Port))));
        }

        // Filtering, RFC 5780 §4.4: tests II and III at once, from a socket that has talked to the
        // server's primary address only; III only matters if II gets no answer. Both requests go to
        // the primary address, so they also create the mapping that test I would.
        if (no5780 is not null)
        {
            _filtering = NatBehavior.Unknown;
            _filteringReason = no5780;
        }
        else
        {
            start.Add(Padded(NewProbe(ProbePurpose.FilteringTest2, DiscoverySockets.Filtering, _server) with { ChangeRequest = ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort }));
            start.Add(Padded(NewProbe(ProbePurpose.FilteringTest3, DiscoverySockets.Filtering, _server) with { ChangeRequest = ChangeRequestFlags.ChangePort }));
        }

        // Hairpinning, RFC 5780 §4.5: first the second socket's own mapping, then packets both ways.
        if (_options.CheckHairpinning)
        {
            start.Add(NewProbe(ProbePurpose.HairpinBind, DiscoverySockets.Hairpin, _server));
        }

        // Mapping lifetime, RFC 5780 §4.6.
        if (_options.MappingLifetime is { } lifetime)
        {
            _lifetime = new MappingLifetimeSearch(_server, lifetime, _options.Retransmission.UnreliableTimeout, NextProbeId, now);
            _lifetime.Poll(now, start);
        }
    }

    private DiscoveryProbe Padded(DiscoveryProbe probe) =>
        _options.PaddingLength > 0 ? probe with { PaddingLength = _options.PaddingLength } : probe;

    private void DecideAllUdp(string why)
    {
        _mapping = NatBehavior.Unknown;
        _mappingReason = why;
        _filtering = NatBehavior.Unknown;
        _filteringReason = why;
        _hairpinDecided = true;
        _hairpin = null;
        _hairpinReason = why;
    }

    private void OnTcp(ProbeOutcome outcome)
    {
        if (outcome.Response is { } response)
        {
            _tcp = true;
            _tcpReason = response.IsSuccess ? null : $"the server answered over TCP with error {response.ErrorCode}";
            _tcpMapped = response.MappedAddress;
        }
        else
        {
            _tcp = false;
            _tcpReason = outcome.Result == ProbeResult.TimedOut
                ? "no answer over TCP"
                : outcome.Detail ?? "the TCP connection failed";
        }
    }

    private void OnMapping2(ProbeOutcome outcome, List<DiscoveryProbe> start)
    {
        if (outcome.Response is not { IsSuccess: true, MappedAddress: { } mapped2 })
        {
            _mapping = NatBehavior.Unknown;
            _mappingReason = $"mapping test II got {Describe(outcome)} from the alternate address {_other!.Address}:{_server.Port}";
            return;
        }
        AddPublic(mapped2);
        if (mapped2.Equals(_test1!.MappedAddress))
        {
            _mapping = NatBehavior.EndpointIndependent;
            return;
        }
        _mapped2 = mapped2;
        start.Add(Padded(NewProbe(ProbePurpose.MappingTest3, DiscoverySockets.Primary, _other!)));
    }

    private void OnMapping3(ProbeOutcome outcome)
    {
        if (outcome.Response is not { IsSuccess: true, MappedAddress: { } mapped3 })
        {
            _mapping = NatBehavior.Unknown;
            _mappingReason = $"the mapping differs per destination address, but test III got {Describe(outcome)} from {_other}";
            return;
        }
        AddPublic(mapped3);
        _mapping = mapped3.Equals(_mapped2) ? NatBehavior.AddressDependent : NatBehavior.AddressAndPortDependent;
    }

    /// <summary>RFC 5780 §4.4: an answer to II means endpoint-independent; else an answer to III means address-dependent; else both.</summary>
    private void DecideFiltering()
    {
        if (_filtering is not null)
        {
            return;
        }
        if (_filtering2 is { } test2 && test2.Response is { } response2)
        {
            if (!response2.IsSuccess)
            {
                SetFilteringUnknown($"the server rejected CHANGE-REQUEST with error {response2.ErrorCode} {response2.ErrorReason}".TrimEnd());
            }
            else if (response2.From is { } from && (from.Address.Equals(_server.Address) || from.Port == _server.Port))
            {
                SetFilteringUnknown($"asked to answer from its other IP and port, the server answered from {from}");
            }
            else
            {
                _filtering = NatBehavior.EndpointIndependent;
            }
            return;
        }
        if (_filtering2 is null || _filtering3 is not { } test3)
        {
            return;
        }
        if (_filtering2.Result == ProbeResult.Failed)
        {
            SetFilteringUnknown($"filtering test II failed: {_filtering2.Detail}");
        }
        else if (test3.Response is { } response3)
        {
            if (!response3.IsSuccess)
            {
                SetFilteringUnknown($"the server rejected CHANGE-REQUEST with error {response3.ErrorCode} {response3.ErrorReason}".TrimEnd());
            }
            else if (response3.From is { } from && from.Port == _server.Port)
            {
                SetFilteringUnknown($"asked to answer from its other port, the server answered from {from}");
            }
            else
            {
                _filtering = NatBehavior.AddressDependent;
            }
        }
        else if (test3.Result == ProbeResult.TimedOut)
        {
            _filtering = NatBehavior.AddressAndPortDependent;
        }
        else
        {
            SetFilteringUnknown($"filtering test III failed: {test3.Detail}");
        }
    }

    private void SetFilteringUnknown(string reason)
    {
        _filtering = NatBehavior.Unknown;
        _filteringReason = reason;
    }

    private void OnHairpinBind(ProbeOutcome outcome, List<DiscoveryProbe> start)
    {
        if (outcome.Response is not { IsSuccess: true, MappedAddress: { } secondMapped })
        {
            _hairpinDecided = true;
            _hairpinReason = $"the second socket's Binding request got {Describe(outcome)}";
            return;
        }
        // Each direction opens the sender's filter toward the other's mapping for the retransmissions
        // that follow (hole punching through the NAT's own public address).
        _hairpinProbes = 2;
        start.Add(NewProbe(ProbePurpose.Hairpinning, DiscoverySockets.Hairpin, _test1!.MappedAddress!) with { ReceiverSocketId = DiscoverySockets.Primary });
        start.Add(NewProbe(ProbePurpose.Hairpinning, DiscoverySockets.Primary, secondMapped) with { ReceiverSocketId = DiscoverySockets.Hairpin });
    }

    private void OnHairpin(ProbeOutcome outcome)
    {
        if (_hairpinDecided)
        {
            return;
        }
        _hairpinProbes--;
        if (outcome.Result == ProbeResult.Received)
        {
            _hairpinDecided = true;
            _hairpin = true;
            _hairpinReason = null;
            return;
        }
        if (outcome.Result != ProbeResult.TimedOut)
        {
            _hairpinReason = $"the hairpinning test could not run: {outcome.Detail ?? outcome.Result.ToString()}";
        }
        if (_hairpinProbes == 0)
        {
            _hairpinDecided = true;
            if (_hairpinReason is null)
            {
                _hairpin = false;
                _hairpinReason = "packets sent to this host's own public addresses did not come back";
            }
        }
    }

    /// <summary>At the deadline whatever is still open is decided as unknown (or, for test I, as no UDP).</summary>
    private void ApplyDeadline()
    {
        string why = $"no answer within the {_options.Timeout.TotalSeconds:0.#} s timeout";
        if (_udp is null)
        {
            _udp = false;
            _udpReason = why;
            DecideAllUdp("UDP to the server does not work");
            _lifetimeNote = "UDP to the server does not work";
        }
        if (_tcp is null && _tcpReason is null)
        {
            _tcp = false;
            _tcpReason = why;
        }
        if (_mapping is null)
        {
            _mapping = NatBehavior.Unknown;
            _mappingReason = why;
        }
        if (_filtering is null)
        {
            SetFilteringUnknown(why);
        }
        if (!_hairpinDecided)
        {
            _hairpinDecided = true;
            _hairpinReason = why;
        }
        // The lifetime search has its own budget; only the other probes are abandoned.
        foreach (int id in _outstanding.Where(p => p.Value.Purpose is not (ProbePurpose.LifetimeBind or ProbePurpose.LifetimeCheck)).Select(p => p.Key).ToList())
        {
            _outstanding.Remove(id);
        }
    }

    private void RecordRoundTrip(DiscoveryProbe probe, ProbeOutcome outcome)
    {
        if (probe.Purpose != ProbePurpose.TcpBinding && outcome.Response is { IsSuccess: true, IsRoundTripTimeAmbiguous: false } response
            && outcome.ReceivedOnSocketId == probe.SocketId)
        {
            _roundTripTimes.Add(response.RoundTripTime);
        }
    }

    private void AddPublic(IPEndPoint endPoint)
    {
        if (!_publicEndPoints.Contains(endPoint))
        {
            _publicEndPoints.Add(endPoint);
        }
    }

    private static string Describe(ProbeOutcome outcome) => outcome.Result switch
    {
        ProbeResult.TimedOut => "no answer",
        ProbeResult.Response when outcome.Response is { IsSuccess: false } r => $"error {r.ErrorCode}",
        ProbeResult.Response => "an answer without a mapped address",
        _ => $"a failure ({outcome.Detail})",
    };

    /// <summary>The findings so far; complete once <see cref="IsComplete"/>.</summary>
    public NatReport BuildReport(TimeSpan now)
    {
        IPEndPoint? publicEndPoint = _test1?.MappedAddress ?? (_udp == false ? _tcpMapped : null);
        var publicEndPoints = new List<IPEndPoint>(_publicEndPoints);
        if (publicEndPoints.Count == 0 && publicEndPoint is not null)
        {
            publicEndPoints.Add(publicEndPoint);
        }
        TimeSpan? rtt = null;
        if (_roundTripTimes.Count > 0)
        {
            List<TimeSpan> sorted = [.. _roundTripTimes.Order()];
            int middle = sorted.Count / 2;
            rtt = sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        }
        MappingLifetimeEstimate? lifetime = _options.MappingLifetime is null
            ? null
            : _lifetime?.Result ?? new MappingLifetimeEstimate { Note = _lifetimeNote ?? "not measured" };
        return new NatReport
        {
            Server = _server,
            LocalEndPoint = _local,
            UdpWorks = _udp == true,
            UdpReason = _udpReason,
            TcpWorks = _tcp,
            TcpReason = _tcpReason,
            PublicEndPoint = publicEndPoint,
            PublicEndPoints = publicEndPoints,
            NatDetected = _test1?.MappedAddress is { } mapped ? !mapped.Equals(_local) : null,
            Mapping = _mapping ?? NatBehavior.Unknown,
            MappingReason = _mappingReason ?? (_mapping is null ? "not decided" : null),
            Filtering = _filtering ?? NatBehavior.Unknown,
            FilteringReason = _filteringReason ?? (_filtering is null ? "not decided" : null),
            Hairpinning = _hairpin,
            HairpinningReason = _hairpinReason ?? (_options.CheckHairpinning ? null : "not tested"),
            SupportsRfc5780 = _other is not null,
            OtherAddress = _test1?.OtherAddress,
            ServerSoftware = _test1?.Software,
            ServerError = _test1 is { IsSuccess: false } error ? $"{error.ErrorCode} {error.ErrorReason}".TrimEnd() : null,
            RoundTripTime = rtt,
            RoundTripSamples = _roundTripTimes.Count,
            MappingLifetime = lifetime,
            Elapsed = _started ? now - _startedAt : TimeSpan.Zero,
        };
    }
}
