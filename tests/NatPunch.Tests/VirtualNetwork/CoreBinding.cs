using NatPunch.Core;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// Drives an <see cref="IDatagramCore"/> from the simulation, the way a real driver's socket loop
/// would (DESIGN.md, "Drivers"): datagrams in, then drain <see cref="IDatagramCore.TryPollTransmit"/>,
/// then (re)schedule a wake-up at <see cref="IDatagramCore.NextWakeUp"/>.
/// </summary>
internal sealed class CoreBinding
{
    private readonly VirtualSocket _socket;
    private readonly SimulatedWakeUp _wakeUp;
    private bool _cancelled;
    // Wake-ups handled at the current instant: a core that keeps asking to be woken "now" is broken.
    private TimeSpan _lastWakeUp = TimeSpan.MinValue;
    private int _wakeUpsAtThisInstant;

    /// <summary>Wake-ups at one instant beyond which the core is declared stuck.</summary>
    public const int MaxWakeUpsPerInstant = 1000;

    public CoreBinding(VirtualSocket socket, IDatagramCore core)
    {
        _socket = socket;
        Core = core;
        _wakeUp = new SimulatedWakeUp(socket.Simulator, WakeUp);
    }

    public IDatagramCore Core { get; }

    private Simulator Simulator => _socket.Simulator;

    public void HandleDatagram(Packet packet)
    {
        Core.HandleDatagram(packet.Payload, packet.Source, Simulator.Now);
        Flush();
    }

    public void Flush()
    {
        if (_cancelled)
        {
            return;
        }
        while (Core.TryPollTransmit(Simulator.Now, out OutgoingDatagram datagram))
        {
            _socket.Send(datagram.To, datagram.Payload.Span);
        }
        ScheduleWakeUp();
    }

    /// <summary>
    /// The contract (<see cref="IDatagramCore.HandleTimeout"/>) implies a core moves its wake-up on;
    /// one that doesn't would make a real driver busy-loop. Say which core, rather than hang.
    /// </summary>
    private void CheckNotSpinning()
    {
        TimeSpan now = Simulator.Now;
        _wakeUpsAtThisInstant = now == _lastWakeUp ? _wakeUpsAtThisInstant + 1 : 1;
        _lastWakeUp = now;
        if (_wakeUpsAtThisInstant > MaxWakeUpsPerInstant)
        {
            throw new InvalidOperationException(
                $"{Core.GetType().Name} on {_socket}: NextWakeUp is {Core.NextWakeUp} at now = {now} even after {MaxWakeUpsPerInstant} " +
                "HandleTimeout calls; a core must move its wake-up past 'now' (a real driver would busy-loop here).");
        }
    }

    public void Cancel()
    {
        _cancelled = true;
        _wakeUp.Cancel();
    }

    private void ScheduleWakeUp() => _wakeUp.Reschedule(Core.NextWakeUp);

    private void WakeUp()
    {
        CheckNotSpinning();
        Core.HandleTimeout(Simulator.Now);
        Flush();
    }
}
