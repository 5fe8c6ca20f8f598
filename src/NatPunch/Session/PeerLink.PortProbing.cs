using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using NatPunch.Traversal;

namespace NatPunch.Session;

// Port probing on the side whose NAT varies its port (IceEvent.OpenProbeSockets): many more sockets,
// each of which sent one datagram toward the peer, so the NAT holds a mapping toward it for each. A
// probe of the peer's that hits one arrives on that socket; from then on everything for the peer's
// address leaves from it (the route), so the agent, which knows one socket, needs to know nothing of
// them. Those that carry no path are closed when probing is over or a direct path is in use.
internal sealed partial class PeerLink
{
    private readonly ConcurrentDictionary<Socket, ProbeSocket> _probeSockets = new();
    // Remote endpoint → the extra socket that last heard a STUN message from it.
    private readonly ConcurrentDictionary<IPEndPoint, Socket> _routes = new();

    /// <summary>One extra socket: its datagrams go where the main socket's go, and mark the route.</summary>
    private sealed class ProbeSocket(PeerLink link, Socket socket) : ILinkDatagramReceiver
    {
        public Socket Socket { get; } = socket;

        public LinkPoller.Registration? Registration { get; set; }

        public void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from)
        {
            if (IceAgent.IsStun(datagram))
            {
                link._routes[Candidate.Normalize(from)] = Socket;
            }
            link.OnDatagram(datagram, from);
        }

        public void OnWakeUp()
        {
        }

        public void OnFault(Exception error) => link.OnFault(error);

        public void Close()
        {
            Registration?.Dispose();
            Socket.Dispose();
        }
    }

    /// <summary>The socket to send to <paramref name="remote"/> from: the extra socket a probe reached, else the main one.</summary>
    private Socket SocketFor(IPEndPoint remote) =>
        _routes.TryGetValue(remote, out Socket? socket) && _probeSockets.ContainsKey(socket) ? socket : _socket;

    private void OpenProbeSockets(IceEvent.OpenProbeSockets open)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }
        IPEndPoint to = WireAddress(open.Toward);
        bool v6 = _socket.AddressFamily == AddressFamily.InterNetworkV6;
        for (int i = 0; i < open.Count; i++)
        {
            Socket socket;
            try
            {
                socket = new Socket(_socket.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                if (v6)
                {
                    socket.DualMode = _socket.DualMode;
                }
                socket.Bind(new IPEndPoint(v6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
            }
            catch (SocketException)
            {
                break; // out of descriptors or ports: probe with the sockets there are
            }
            var probe = new ProbeSocket(this, socket);
            _probeSockets[socket] = probe;
            if (LinkPoller.Shared is { } poller)
            {
                probe.Registration = poller.Add(socket, probe);
            }
            else
            {
                _ = ReceiveOnProbeSocketAsync(probe);
            }
            try
            {
                socket.SendTo(open.Opening.Span, SocketFlags.None, to);
            }
            catch (SocketException)
            {
                // No route right now: this socket simply holds no mapping.
            }
        }
    }

    /// <summary>Where <see cref="LinkPoller"/> does not run: a receive loop per extra socket until it is closed.</summary>
    private async Task ReceiveOnProbeSocketAsync(ProbeSocket probe)
    {
        byte[] buffer = new byte[MaxDatagram];
        EndPoint any = new IPEndPoint(probe.Socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (true)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await probe.Socket.ReceiveFromAsync(buffer, SocketFlags.None, any).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (!_probeSockets.ContainsKey(probe.Socket))
            {
                return;
            }
            catch (SocketException)
            {
                continue; // an ICMP error concerns one peer, not the socket
            }
            probe.OnDatagram(buffer.AsSpan(0, received.ReceivedBytes), (IPEndPoint)received.RemoteEndPoint);
        }
    }

    /// <summary>Closes the extra sockets, except the ones the data path (or the one being validated) sends from.</summary>
    private void CloseUnusedProbeSockets() => CloseProbeSockets(_dataTarget?.From, _pendingTarget?.From);

    private void CloseAllProbeSockets() => CloseProbeSockets(null, null);

    private void CloseProbeSockets(Socket? keep, Socket? alsoKeep)
    {
        if (_probeSockets.IsEmpty)
        {
            return;
        }
        foreach (ProbeSocket probe in _probeSockets.Values)
        {
            if (probe.Socket != keep && probe.Socket != alsoKeep && _probeSockets.TryRemove(probe.Socket, out _))
            {
                probe.Close();
            }
        }
        foreach (KeyValuePair<IPEndPoint, Socket> route in _routes)
        {
            if (!_probeSockets.ContainsKey(route.Value))
            {
                _routes.TryRemove(route);
            }
        }
    }
}
