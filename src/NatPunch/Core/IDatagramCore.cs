using System.Net;

namespace NatPunch.Core;

/// <summary>
/// A protocol state machine that does no I/O (DESIGN.md, "Protocol cores"): datagrams and the
/// current time go in; datagrams to send and the next time it wants to be woken come out.
/// A driver binds it to a real socket and clock; the virtual network in the unit tests binds it
/// to simulated NATs and a fake clock. Times are monotonic offsets from an arbitrary epoch.
/// </summary>
public interface IDatagramCore
{
    /// <summary>A datagram arrived on the core's socket from <paramref name="from"/>.</summary>
    void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from, TimeSpan now);

    /// <summary>The next datagram the core wants sent, if any. Call until it returns false.</summary>
    bool TryPollTransmit(TimeSpan now, out OutgoingDatagram datagram);

    /// <summary>When the core next needs <see cref="HandleTimeout"/>; null when it waits only for input.</summary>
    TimeSpan? NextWakeUp { get; }

    /// <summary>Time has reached (or passed) <see cref="NextWakeUp"/>.</summary>
    void HandleTimeout(TimeSpan now);
}
