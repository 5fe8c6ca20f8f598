using System.Net;
using NatPunch.Server.Stun;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// The project's own STUN server core (<see cref="StunBindingResponder"/>) on a public host of the
/// simulation. With an alternate address it has the four sockets of RFC 5780 §4.1
/// ({primary, alternate IP} × {port, port+1}, indexed as in <see cref="ServerAddressSet"/>), so
/// CHANGE-REQUEST answers really come from another address and NAT filtering can be probed.
/// </summary>
public sealed class StunServerNode
{
    private readonly StunBindingResponder _responder;
    private readonly VirtualSocket[] _sockets;
    private readonly byte[] _buffer = new byte[StunBindingResponder.MaxResponseLength(1500)];

    internal StunServerNode(NetworkSegment segment, string name, IPAddress primary, IPAddress? alternate, int port, LinkConditions? link)
    {
        Addresses = new ServerAddressSet(new IPEndPoint(primary, port), alternate);
        _responder = new StunBindingResponder(Addresses);
        Host = segment.AddHost(name, alternate is null ? [primary] : [primary, alternate], link);
        _sockets = new VirtualSocket[Addresses.Count];
        for (int index = 0; index < Addresses.Count; index++)
        {
            IPEndPoint endPoint = Addresses[index];
            int receivedOn = index;
            _sockets[index] = Host.Bind(endPoint.Port, endPoint.Address);
            _sockets[index].OnReceive(datagram => Answer(datagram, receivedOn));
        }
    }

    public VirtualHost Host { get; }

    /// <summary>The server's addresses; index 0 is the primary, <see cref="ServerAddressSet.Other"/> gives OTHER-ADDRESS.</summary>
    public ServerAddressSet Addresses { get; }

    public IPEndPoint Primary => Addresses[ServerAddressSet.Primary];

    /// <summary>Requests received, whatever became of them.</summary>
    public long Requests { get; private set; }

    public long Responses { get; private set; }

    /// <summary>Stops answering (datagrams are then dropped as <see cref="DropReason.PortUnreachable"/>), e.g. to test a client's timeouts.</summary>
    public void Stop()
    {
        foreach (VirtualSocket socket in _sockets)
        {
            socket.Close();
        }
    }

    private void Answer(ReceivedDatagram datagram, int receivedOn)
    {
        Requests++;
        if (datagram.Payload.Length > 1500)
        {
            return;
        }
        StunResponse response = _responder.Respond(datagram.Payload, datagram.From.Address.GetAddressBytes(), datagram.From.Port,
            receivedOn, overTcp: false, _buffer);
        if (!response.HasResponse)
        {
            return;
        }
        // RFC 5780 §7.5 RESPONSE-PORT: the answer goes to that port of the client's address.
        int port = response.DestinationPort != 0 ? response.DestinationPort : datagram.From.Port;
        Responses++;
        _sockets[response.SendFromIndex].Send(new IPEndPoint(datagram.From.Address, port), _buffer.AsSpan(0, response.Length));
    }

    public override string ToString() => $"STUN {Host.Name} {Primary}" + (Addresses.SupportsBehaviorDiscovery ? $" / {Addresses[3]}" : "");
}
