using System.Net;
using System.Net.Sockets;
using System.Text;
using NatPunch.Protocol.Stun;

namespace NatPunch.Traversal;

// Port probing ("birthday" punching, PortProbingOptions): when our mapping varies by destination and
// the peer's does not, we open many sockets toward the peer's public address (the driver does, on
// OpenProbeSockets); when ours is fixed and the peer's varies, we send one-shot checks to random ports
// of the peer's public address. An answered probe is a verified pair like any check's.
public sealed partial class IceAgent
{
    private enum ProbingRole { Undecided, None, Prober, Opener }

    private ProbingRole _probingRole;
    private bool _probingWaitsForGathering;
    private IPAddress? _probeTarget;
    private TimeSpan _nextProbeAt;
    private TimeSpan _probingEndsAt;
    private bool _probeSocketsDoneReported;
    private bool _probingOver;
    private readonly HashSet<int> _probedPorts = [];
    // Ports to probe before random ones, nearest first (port prediction).
    private readonly Queue<int> _predictedPorts = new();
    private readonly Dictionary<TransactionId, (IPEndPoint To, TimeSpan SentAt)> _probes = [];

    /// <summary>A step larger than this is taken for a random allocation, not a sequence.</summary>
    private const int MaxPredictableStep = 64;

    /// <summary>The peer's <see cref="MappingPortStep"/> (from its offer), when its mapping varies.</summary>
    public int? PeerPortStep { get; private set; }

    /// <summary>Probes sent to the peer's ports (we are the side whose mapping is fixed).</summary>
    public int ProbesSent { get; private set; }

    /// <summary>Extra sockets asked of the driver (we are the side whose mapping varies).</summary>
    public int ProbeSocketsOpened { get; private set; }

    /// <summary>The port of the peer's that answered a probe, if one did.</summary>
    public IPEndPoint? ProbeHit { get; private set; }

    /// <summary>What probing cost so far; null if this agent did not probe.</summary>
    public PortProbingSummary? Probing => ProbesSent == 0 && ProbeSocketsOpened == 0 ? null : new(ProbesSent, ProbeSocketsOpened);

    /// <summary>How probing stands, for <see cref="WhyNoDirectPath"/>: under way, over, or not done.</summary>
    private string ProbingState => _probingRole switch
    {
        ProbingRole.Prober or ProbingRole.Opener when !_probingOver && ProbeHit is null =>
            "; port probing is under way, and the session moves to a direct path if a probe gets through",
        ProbingRole.Prober or ProbingRole.Opener when ProbeHit is null => "; port probing found no port",
        _ => "",
    };

    private bool DirectPathSelected => SelectedPair is { IsRelayed: false };

    /// <summary>Whether probing may still find a path: the pairs are not all hopeless while it runs.</summary>
    private bool ProbingUnderWay(TimeSpan now) => _probingRole is ProbingRole.Prober or ProbingRole.Opener && now < _probingEndsAt && ProbeHit is null;

    /// <summary>
    /// Once checks have begun and both mappings are known: take a role, or none. Called on every
    /// timeout and when the mapping test ends (it may end after checks began).
    /// </summary>
    private void ConsiderPortProbing(TimeSpan now)
    {
        if (_probingRole != ProbingRole.Undecided || _checksStartAt is not { } start || now < start)
        {
            return;
        }
        if (MappingVaries is null && !GatheringComplete)
        {
            _probingWaitsForGathering = true; // decided when the mapping test answers or times out
            return;
        }
        Candidate? peerPublic = _remoteCandidates.Find(c => c.Type == CandidateType.ServerReflexive && c.Family == AddressFamily.InterNetwork && !c.IsTcp);
        if (_options.PortProbing is not { } options || peerPublic is null || DirectPathSelected || !_bases.ContainsKey(AddressFamily.InterNetwork))
        {
            _probingRole = ProbingRole.None;
            return;
        }
        _probingEndsAt = start + options.Window;
        switch (MappingVaries, PeerMappingVaries)
        {
            case (false, true):
                _probingRole = ProbingRole.Prober;
                _probeTarget = peerPublic.EndPoint.Address;
                _nextProbeAt = start + options.StartDelay;
                PredictPorts(peerPublic.EndPoint.Port, options);
                break;
            case (true, false):
                _probingRole = ProbingRole.Opener;
                ProbeSocketsOpened = options.Sockets;
                _events.Enqueue(new IceEvent.OpenProbeSockets(peerPublic.EndPoint, options.Sockets, OpeningDatagram()));
                break;
            default:
                _probingRole = ProbingRole.None;
                break;
        }
    }

    /// <summary>
    /// What each extra socket sends to open its mapping: a STUN Binding indication, which needs no
    /// answer and which an agent ignores should it get through (a peer NAT that does not filter).
    /// </summary>
    private static byte[] OpeningDatagram()
    {
        var buffer = new byte[32];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingIndication, TransactionId.NewRandom());
        builder.AddFingerprint();
        return builder.Written.ToArray();
    }

    private TimeSpan? PortProbingWakeUp
    {
        get
        {
            if (_probingRole == ProbingRole.Undecided)
            {
                return _probingWaitsForGathering ? null : _checksStartAt;
            }
            if (_probingRole == ProbingRole.Prober && ProbeHit is null && !DirectPathSelected && ProbesSent < _options.PortProbing!.Probes)
            {
                return _nextProbeAt;
            }
            bool socketsOpen = _probingRole == ProbingRole.Opener && !_probeSocketsDoneReported;
            return socketsOpen || _probes.Count > 0 ? _probingEndsAt : null;
        }
    }

    private void HandlePortProbingTimeout(TimeSpan now)
    {
        ConsiderPortProbing(now);
        SendDueProbes(now);
        if (now < _probingEndsAt)
        {
            return;
        }
        _probingOver = true;
        _probes.Clear(); // late answers no longer count
        if (_probingRole == ProbingRole.Opener && !_probeSocketsDoneReported)
        {
            _probeSocketsDoneReported = true;
            _events.Enqueue(new IceEvent.ProbeSocketsDone());
        }
    }

    private void SendDueProbes(TimeSpan now)
    {
        if (_probingRole != ProbingRole.Prober || ProbeHit is not null || DirectPathSelected || _remote is null || _probeTarget is null)
        {
            return;
        }
        PortProbingOptions options = _options.PortProbing!;
        TimeSpan interval = TimeSpan.FromSeconds(1.0 / Math.Max(1, options.ProbesPerSecond));
        if (now - _nextProbeAt > 10 * interval)
        {
            _nextProbeAt = now; // woken late: no burst to catch up
        }
        Candidate local = _bases[AddressFamily.InterNetwork];
        int portCount = 65536 - options.LowestPort;
        while (_nextProbeAt <= now && ProbesSent < options.Probes && _probedPorts.Count < portCount)
        {
            var to = new IPEndPoint(_probeTarget, NextProbePort(options));
            var id = TransactionId.NewRandom();
            _probes[id] = (to, now);
            Send(to, BuildCheck(id, local, sendsViaRelay: false, useCandidate: false), IceRoute.Socket);
            ProbesSent++;
            _nextProbeAt += interval;
        }
    }

    /// <summary>
    /// RFC 4787 §4.2.1: a NAT that allocates ports in sequence, or preserves the internal port and
    /// takes the next free one, gave the peer port P toward the server's primary address and P + step
    /// toward its other address; its mappings toward us (the peer's socket, then its extra sockets)
    /// come next. Probed first: <see cref="PortProbingOptions.PredictedPorts"/> ports past P + step,
    /// one at a time in the step's direction (other users of a carrier NAT take ports in between).
    /// </summary>
    private void PredictPorts(int peerPort, PortProbingOptions options)
    {
        if (PeerPortStep is not { } step || step == 0 || Math.Abs(step) > MaxPredictableStep)
        {
            return;
        }
        int direction = Math.Sign(step);
        for (int i = 1; i <= options.PredictedPorts; i++)
        {
            int port = peerPort + step + direction * i;
            if (port >= options.LowestPort && port <= 65535)
            {
                _predictedPorts.Enqueue(port);
            }
        }
    }

    /// <summary>The next port to probe: a predicted one, else a random one not probed yet.</summary>
    private int NextProbePort(PortProbingOptions options)
    {
        while (_predictedPorts.TryDequeue(out int predicted))
        {
            if (_probedPorts.Add(predicted))
            {
                return predicted;
            }
        }
        int port;
        do
        {
            port = Random.Shared.Next(options.LowestPort, 65536);
        }
        while (!_probedPorts.Add(port));
        return port;
    }

    /// <summary>
    /// An answer to one of our probes: verified as any check's answer (else ignored, and the probe
    /// still waits for the real one), it makes a working pair with the port that answered.
    /// </summary>
    private void HandleProbeResponse(StunMessage response, IPEndPoint from, (IPEndPoint To, TimeSpan SentAt) probe, TimeSpan now)
    {
        if (_remote is null || response.Type.Class != StunClass.SuccessResponse || !from.Equals(probe.To)
            || !response.VerifyMessageIntegrity(Encoding.UTF8.GetBytes(_remote.Pwd)) || !_bases.TryGetValue(from.AddressFamily, out Candidate? local))
        {
            return;
        }
        ProbeHit = from;
        _probes.Clear();
        Candidate? remote = _remoteCandidates.Find(c => !c.IsTcp && c.EndPoint.Equals(from));
        if (remote is null)
        {
            int localPreference = (int)((local.Priority >> 8) & 0xFFFF);
            remote = new Candidate(CandidateType.PeerReflexive, from, Candidate.ComputePriority(CandidateType.PeerReflexive, localPreference), $"p{_pairs.Count}");
            _remoteCandidates.Add(remote);
        }
        CandidatePair pair = AddPair(local, remote);
        pair.FirstCheckAt ??= now;
        pair.RoundTrip ??= now - probe.SentAt;
        PairSucceeded(pair, useCandidate: false, now);
    }
}
