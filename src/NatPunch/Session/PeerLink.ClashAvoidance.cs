using System.Net;
using NatPunch.Protocol.Net;
using NatPunch.Traversal;

namespace NatPunch.Session;

// Clash avoidance on the link's side (IceEvent.TraceRouteToPeer): the traceroute, then the opening
// datagrams from the link's socket with a time to live that ends one router short of the peer's
// public address, then the result to the agent.
internal sealed partial class PeerLink
{
    /// <summary>Copies of each opening datagram: one may be lost between us and our NAT's far side.</summary>
    private const int OpeningCopies = 2;

    private async Task TraceRouteToPeerAsync(IceEvent.TraceRouteToPeer trace)
    {
        RouteToPeer route;
        int openedWith = 0;
        void Open(int ttl)
        {
            openedWith = ttl;
            SendOpenings(trace, ttl);
        }
        try
        {
            route = await RouteTracer.TraceAsync(trace.Peer, trace.Wait, Open, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            return; // the link closed first
        }
        // The peer's address did not answer (its NAT drops what it did not ask for, or limits its ICMP):
        // an opening through the routers that did answer costs nothing and may still be what helps.
        if (route.RoutersBefore >= 2 && route.RoutersBefore > openedWith)
        {
            SendOpenings(trace, route.RoutersBefore);
        }
        _loop.TryPost(() => _session.RouteTraced(trace.Peer, route, Now));
    }

    private void SendOpenings(IceEvent.TraceRouteToPeer trace, int ttl)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }
        foreach (IPEndPoint endPoint in trace.PeerEndPoints)
        {
            for (int i = 0; i < OpeningCopies; i++)
            {
                LinuxTtlSender.Send(_socket, WireAddress(endPoint), trace.Opening.Span, ttl);
            }
        }
    }
}
