using System.Net;
using NatPunch.Core;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// A UDP socket on a <see cref="VirtualHost"/>. What receives its datagrams is one of: an
/// <see cref="IDatagramCore"/> (<see cref="Attach"/>), a delegate (<see cref="OnReceive"/>), or,
/// when neither is set, the <see cref="Inbox"/> for the test to read.
/// </summary>
public sealed class VirtualSocket
{
    private readonly List<ReceivedDatagram> _inbox = [];
    private CoreBinding? _core;
    private Action<ReceivedDatagram>? _handler;

    internal VirtualSocket(VirtualHost host, IPEndPoint localEndPoint)
    {
        Host = host;
        LocalEndPoint = localEndPoint;
    }

    public VirtualHost Host { get; }

    public Simulator Simulator => Host.Simulator;

    /// <summary>The bound address (possibly 0.0.0.0) and port.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The source address of this socket's datagrams: the bound address, or the host's first.</summary>
    public IPEndPoint SourceEndPoint => IsWildcard ? new IPEndPoint(Host.Address, LocalEndPoint.Port) : LocalEndPoint;

    public bool IsWildcard => LocalEndPoint.Address.Equals(IPAddress.Any);

    public bool IsClosed { get; private set; }

    /// <summary>The attached core, if any.</summary>
    public IDatagramCore? Core => _core?.Core;

    /// <summary>Datagrams received while no core or handler was attached, oldest first.</summary>
    public IReadOnlyList<ReceivedDatagram> Inbox => _inbox;

    public long SentCount { get; private set; }

    public long ReceivedCount { get; private set; }

    /// <summary>Sends a datagram now (it leaves through the host's link, then whatever NATs lie on the way).</summary>
    public void Send(IPEndPoint to, ReadOnlySpan<byte> payload)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        // Copied: the caller (a core's pooled buffer) may reuse its memory as soon as we return.
        var packet = new Packet(Simulator.NextPacketId(), SourceEndPoint, to, payload.ToArray());
        SentCount++;
        Simulator.Record(TraceKind.Sent, Host.Name, packet);
        Host.Transmit(packet);
    }

    /// <summary>
    /// Lets <paramref name="core"/> own this socket: it gets every datagram and its wake-ups, and what it
    /// transmits is sent. It is polled once right away, so a core that starts by sending just works.
    /// </summary>
    public void Attach(IDatagramCore core)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        if (_core is not null || _handler is not null)
        {
            throw new InvalidOperationException($"{SourceEndPoint} already has a receiver.");
        }
        _core = new CoreBinding(this, core);
        _core.Flush();
    }

    /// <summary>Calls <paramref name="handler"/> for each datagram (reply with <see cref="Send"/>).</summary>
    public void OnReceive(Action<ReceivedDatagram> handler)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        if (_core is not null || _handler is not null)
        {
            throw new InvalidOperationException($"{SourceEndPoint} already has a receiver.");
        }
        _handler = handler;
    }

    /// <summary>
    /// Drains what the attached core wants to send and re-reads its <see cref="IDatagramCore.NextWakeUp"/>.
    /// Call after changing the core from outside the simulation (starting a check, closing a session).
    /// </summary>
    public void Poll() => _core?.Flush();

    /// <summary>Unbinds the port; later datagrams to it are dropped as <see cref="DropReason.PortUnreachable"/>.</summary>
    public void Close()
    {
        IsClosed = true;
        _core?.Cancel();
        Host.Unbind(this);
    }

    /// <summary>Forgets the datagrams in <see cref="Inbox"/>.</summary>
    public void ClearInbox() => _inbox.Clear();

    internal void Deliver(Packet packet)
    {
        ReceivedCount++;
        Simulator.Record(TraceKind.Delivered, Host.Name, packet);
        if (_core is not null)
        {
            _core.HandleDatagram(packet);
            return;
        }
        // A copy: the packet's bytes are shared with its duplicates and with the trace.
        var datagram = new ReceivedDatagram(Simulator.Now, packet.Source, packet.Destination, packet.Payload.ToArray(), packet.Id);
        if (_handler is not null)
        {
            _handler(datagram);
        }
        else
        {
            _inbox.Add(datagram);
        }
    }

    public override string ToString() => $"{Host.Name} {SourceEndPoint}";
}
