using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Net;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// A traceroute to the peer's public address, for clash avoidance (<see cref="ClashAvoidanceOptions"/>):
/// from a socket of its own, <see cref="Copies"/> small datagrams for each time to live from 1 to
/// <see cref="MaxTtl"/>, all at once (a lost probe or ICMP answer would make a router look absent), each to its own port of the peer's address (33434 + TTL, traceroute's, which no
/// mapping of ours uses); the ICMP errors they cause (Linux's error queue) tell the routers before the
/// address ("time exceeded") and whether the address itself answers ("port unreachable"). Only IPv4
/// and only on Linux; elsewhere <see cref="RouteToPeer.Unknown"/>.
/// </summary>
internal static class RouteTracer
{
    /// <summary>Internet paths rarely have more routers than this.</summary>
    public const int MaxTtl = 30;
    public const int Copies = 2;
    public const int FirstPort = 33434;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(2);

    /// <param name="openWith">
    /// Called (on the tracer's thread) with a time to live for the opening datagram as soon as one is
    /// known to die before the peer's address (a router answered it, below the first TTL the address
    /// answered), and again if a larger one is found: the opening need not wait for the whole trace.
    /// </param>
    public static async Task<RouteToPeer> TraceAsync(IPAddress peer, TimeSpan wait, Action<int>? openWith, CancellationToken cancel)
    {
        peer = peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer;
        if (!LinuxErrorQueue.Supported || !LinuxTtlSender.Supported || peer.AddressFamily != AddressFamily.InterNetwork)
        {
            return RouteToPeer.Unknown;
        }
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var heard = new RouteEchoes(peer);
        int openedWith = 0;
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Any, 0));
            LinuxErrorQueue.Enable(socket);
            byte[] probe = "natpunch route"u8.ToArray();
            for (int copy = 0; copy < Copies; copy++)
            {
                for (int ttl = 1; ttl <= MaxTtl; ttl++)
                {
                    LinuxTtlSender.Send(socket, new IPEndPoint(peer, FirstPort + ttl), probe, ttl);
                }
            }
            DateTime giveUpAt = DateTime.UtcNow + wait;
            while (true)
            {
                while (LinuxErrorQueue.TryRead(socket, out QueuedIcmpError? error))
                {
                    if (error is { } icmp && icmp.OriginalDestination.Address.Equals(peer))
                    {
                        heard.Add(icmp.OriginalDestination.Port - FirstPort, icmp);
                    }
                }
                if (heard.OpeningTtl is { } ttl && ttl > openedWith)
                {
                    openedWith = ttl;
                    openWith?.Invoke(ttl);
                }
                if (heard.Complete || DateTime.UtcNow >= giveUpAt)
                {
                    break;
                }
                await Task.Delay(PollInterval, cancel).ConfigureAwait(false);
            }
        }
        catch (SocketException)
        {
            // No route to the peer right now, or no socket to spare: what was heard is all there is.
        }
        return heard.Result;
    }
}

/// <summary>The ICMP errors a traceroute heard, by the time to live of the datagram each concerns.</summary>
internal sealed class RouteEchoes(IPAddress peer)
{
    private readonly HashSet<int> _expiredAt = [];
    private int? _answeredAt;
    private bool _unreachable;

    public void Add(int ttl, QueuedIcmpError error)
    {
        if (ttl < 1 || ttl > RouteTracer.MaxTtl)
        {
            return;
        }
        if (error.IsTimeExceeded && !peer.Equals(error.Sender))
        {
            _expiredAt.Add(ttl);
        }
        else if (error.IsPortUnreachable && peer.Equals(error.Sender))
        {
            _answeredAt = _answeredAt is { } earlier ? Math.Min(earlier, ttl) : ttl;
        }
        else if (error.Type == QueuedIcmpError.DestinationUnreachable)
        {
            _unreachable = true; // a router has no way there: nothing more will come
        }
    }

    /// <summary>The peer's address answered, and every router before it did.</summary>
    public bool Complete => _unreachable || _answeredAt is { } at && Enumerable.Range(1, at - 1).All(_expiredAt.Contains);

    /// <summary>
    /// Once the peer's address answered: the largest TTL a router answered below it, if at least 2 (a
    /// datagram with it leaves our NAT and dies before the peer's); else null.
    /// </summary>
    public int? OpeningTtl => _answeredAt is not null && Result.RoutersBefore >= 2 ? Result.RoutersBefore : null;

    public RouteToPeer Result
    {
        get
        {
            int routers = _expiredAt.Where(ttl => _answeredAt is not { } at || ttl < at).DefaultIfEmpty(0).Max();
            return new RouteToPeer(routers, _answeredAt is not null);
        }
    }
}
