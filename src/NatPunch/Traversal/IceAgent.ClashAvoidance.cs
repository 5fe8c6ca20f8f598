using System.Net;
using System.Net.Sockets;

namespace NatPunch.Traversal;

// Clash avoidance (ClashAvoidanceOptions): when the peer's offer arrives, the driver traces the route
// to the peer's public address and sends an opening datagram that dies one router short of it; while
// it traces, and longer if the peer's NAT takes unsolicited packets for itself, our checks to that
// address wait, so that they never reach the peer's NAT before the peer's own opening has left it.
public sealed partial class IceAgent
{
    // The peer's public IPv4 address while checks to it may have to wait.
    private IPAddress? _heldPeer;
    private TimeSpan _holdEndsAt;
    private bool _holdLifted;

    /// <summary>What the traceroute to the peer's public address found; null until it is in (or when none ran).</summary>
    public RouteToPeer? RouteToPeer { get; private set; }

    /// <summary>Whether our checks to the peer's public address waited for the peer's opening (its NAT may clash).</summary>
    public bool HeldForPeerOpening { get; private set; }

    /// <summary>With the peer's offer: ask the driver for the traceroute, and hold checks to its public address meanwhile.</summary>
    private void StartClashAvoidance(TimeSpan now)
    {
        if (_options.ClashAvoidance is not { } options || _heldPeer is not null || !_bases.ContainsKey(AddressFamily.InterNetwork))
        {
            return;
        }
        Candidate? peerPublic = _remoteCandidates.Find(c => c.Type == CandidateType.ServerReflexive && c.Family == AddressFamily.InterNetwork && !c.IsTcp);
        if (peerPublic is null || _localCandidates.Exists(c => c.Type == CandidateType.ServerReflexive && c.EndPoint.Address.Equals(peerPublic.EndPoint.Address)))
        {
            return; // nothing to trace, or the peer is behind our own NAT (no router in between)
        }
        IPAddress peer = peerPublic.EndPoint.Address;
        List<IPEndPoint> endPoints = _remoteCandidates.Where(c => c.EndPoint.Address.Equals(peer) && !c.IsRelayed && !c.IsTcp).Select(c => c.EndPoint).ToList();
        TimeSpan wait = options.TraceWait(ServerRoundTrip);
        _heldPeer = peer;
        _holdEndsAt = now + wait + options.ResultGrace; // the result normally ends it first
        _events.Enqueue(new IceEvent.TraceRouteToPeer(peer, endPoints, OpeningDatagram(), wait));
    }

    /// <summary>
    /// The driver's traceroute to <paramref name="peer"/> is done (or gave up). If the peer's NAT takes
    /// unsolicited packets and a router stands between us, its opening and ours can both leave before
    /// either side's checks arrive: ours wait <see cref="ClashAvoidanceOptions.HoldAfterOpening"/> more.
    /// Otherwise nothing is gained by waiting.
    /// </summary>
    public void RouteTraced(IPAddress peer, RouteToPeer route, TimeSpan now)
    {
        peer = Candidate.Normalize(new IPEndPoint(peer, 0)).Address;
        if (_heldPeer is null || !_heldPeer.Equals(peer) || RouteToPeer is not null)
        {
            return;
        }
        RouteToPeer = route;
        if (_holdLifted || !route.AnswersUnsolicited || route.RoutersBefore < 2)
        {
            _holdLifted = true;
            return;
        }
        HeldForPeerOpening = true;
        TimeSpan from = _checksStartAt is { } start && start > now ? start : now;
        _holdEndsAt = from + _options.ClashAvoidance!.HoldAfterOpening;
    }

    /// <summary>
    /// Whether <paramref name="pair"/>'s first check must still wait: it goes to the peer's public
    /// address, straight or from our relay. A check from the relay that arrives first clashes too, and
    /// worse: Linux then maps the socket's later flows, the peer's among them, to that random port.
    /// </summary>
    private bool Held(CandidatePair pair) =>
        _heldPeer is not null && !_holdLifted && !pair.IsTcp && pair.Remote.EndPoint.Address.Equals(_heldPeer);

    /// <summary>Ends the hold when its time is up.</summary>
    private void UpdateHold(TimeSpan now)
    {
        if (_heldPeer is not null && !_holdLifted && now >= _holdEndsAt)
        {
            _holdLifted = true;
        }
    }

    /// <summary>A check of the peer's came from <paramref name="from"/>: if from its public address, its NAT has let our way out, and nothing need wait.</summary>
    private void PeerWasHeardFrom(IPEndPoint from)
    {
        if (_heldPeer is not null && from.Address.Equals(_heldPeer))
        {
            _holdLifted = true;
        }
    }

    /// <summary>When held pairs may start, if any pair still waits only because of the hold.</summary>
    private TimeSpan? HoldWakeUp => _heldPeer is not null && !_holdLifted ? _holdEndsAt : null;
}
