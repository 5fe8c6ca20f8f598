using System.Net;
using NatPunch.Discovery;
using NatPunch.Discovery.Internal;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;
using NatPunch.Tests.VirtualNetwork;

namespace NatPunch.Tests.Client;

/// <summary>
/// Runs the discovery core on the virtual network, as <see cref="NatDiscovery"/> does on real
/// sockets: one <see cref="VirtualSocket"/> per socket number, one <see cref="StunClientTransaction"/>
/// per probe, retransmissions and wake-ups as simulator events. The NATs are the virtual network's
/// RFC 4787 routers and the server is the project's own STUN responder, so this checks the core
/// against models written independently of it. TCP is not modelled: run with CheckTcp off.
/// </summary>
internal sealed class VirtualNetworkDiscoveryDriver
{
    private readonly Simulator _simulator;
    private readonly VirtualHost _host;
    private readonly NatDiscoveryOptions _options;
    private readonly NatDiscoveryStateMachine _core;
    private readonly Dictionary<int, VirtualSocket> _sockets = [];
    private readonly Dictionary<TransactionId, (DiscoveryProbe Probe, StunClientTransaction Transaction)> _pending = [];
    private readonly HashSet<TimeSpan> _wakeUps = [];

    public VirtualNetworkDiscoveryDriver(Simulator simulator, VirtualHost host, IPEndPoint server, NatDiscoveryOptions options)
    {
        _simulator = simulator;
        _host = host;
        _options = options;
        _core = new NatDiscoveryStateMachine(server, Socket(DiscoverySockets.Primary).SourceEndPoint, options);
    }

    public NatReport? Report { get; private set; }

    public static NatReport Run(Simulator simulator, VirtualHost host, IPEndPoint server, NatDiscoveryOptions options, TimeSpan limit)
    {
        var driver = new VirtualNetworkDiscoveryDriver(simulator, host, server, options);
        driver.Apply(driver._core.Poll(simulator.Now));
        simulator.RunUntil(() => driver.Report is not null, limit).ShouldBeTrue("the discovery did not finish" + Environment.NewLine + simulator.Trace?.Tail());
        return driver.Report!;
    }

    private VirtualSocket Socket(int id)
    {
        if (!_sockets.TryGetValue(id, out VirtualSocket? socket))
        {
            socket = _host.Bind();
            socket.OnReceive(datagram => OnDatagram(id, datagram));
            _sockets[id] = socket;
        }
        return socket;
    }

    private void Apply(DiscoveryStep step)
    {
        foreach (DiscoveryProbe probe in step.Start)
        {
            Launch(probe);
        }
        if (Report is null && step.IsComplete)
        {
            Report = _core.BuildReport(_simulator.Now);
            _pending.Clear();
            return;
        }
        if (step.WakeUp is { } wakeUp && _wakeUps.Add(wakeUp))
        {
            _simulator.ScheduleAt(wakeUp, () =>
            {
                if (Report is null)
                {
                    Apply(_core.Poll(_simulator.Now));
                }
            });
        }
    }

    private void Launch(DiscoveryProbe probe)
    {
        if (probe.Purpose == ProbePurpose.TcpBinding)
        {
            throw new InvalidOperationException("TCP is not modelled by the virtual network; set CheckTcp = false.");
        }
        Span<byte> idBytes = stackalloc byte[TransactionId.Length];
        _simulator.Random.NextBytes(idBytes);
        TransactionId id = TransactionId.Read(idBytes);
        byte[] request = new StunRequest(probe.Destination)
        {
            ChangeRequest = probe.ChangeRequest,
            ResponsePort = probe.ResponsePort,
            PaddingLength = probe.PaddingLength,
        }.Encode(id);
        _pending[id] = (probe, new StunClientTransaction(request, _options.Retransmission));
        Pump(id);
    }

    private void Pump(TransactionId id)
    {
        if (!_pending.TryGetValue(id, out var entry))
        {
            return;
        }
        StunTransactionStep step = entry.Transaction.Poll(_simulator.Now);
        if (step.ShouldSend)
        {
            Socket(entry.Probe.SocketId).Send(entry.Probe.Destination, step.Datagram.Span);
        }
        if (step.State == StunTransactionState.TimedOut)
        {
            _pending.Remove(id);
            Complete(entry.Probe, ProbeOutcome.TimedOut());
        }
        else if (step.NextWakeUp is { } wakeUp)
        {
            _simulator.ScheduleAt(wakeUp, () => Pump(id));
        }
    }

    private void OnDatagram(int socketId, ReceivedDatagram datagram)
    {
        if (!StunMessage.TryParse(datagram.Payload, out StunMessage message, out _)
            || !_pending.TryGetValue(message.TransactionId, out var entry))
        {
            return;
        }
        DiscoveryProbe probe = entry.Probe;
        bool expectedSocket = socketId == probe.SocketId || socketId == probe.ReceiverSocketId;
        if (message.Type.Class == StunClass.Request)
        {
            // The hairpinning test: our own request arriving on the receiving socket.
            if (probe.Purpose == ProbePurpose.Hairpinning && socketId == probe.ReceiverSocketId)
            {
                _pending.Remove(message.TransactionId);
                Complete(probe, ProbeOutcome.Received(socketId));
            }
            return;
        }
        if (expectedSocket && entry.Transaction.TryHandleResponse(datagram.Payload, datagram.From, _simulator.Now))
        {
            _pending.Remove(message.TransactionId);
            StunResponse response = entry.Transaction.Response! with { ReceivedOn = Socket(socketId).SourceEndPoint };
            Complete(probe, ProbeOutcome.Answered(response, socketId));
        }
    }

    private void Complete(DiscoveryProbe probe, ProbeOutcome outcome)
    {
        if (Report is null)
        {
            Apply(_core.OnProbeCompleted(probe.Id, outcome, _simulator.Now));
        }
    }
}
