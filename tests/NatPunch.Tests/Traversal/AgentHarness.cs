using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Stun;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>One agent on a fake clock: runs its timeouts and keeps what it sends (straight and through the relay) and reports.</summary>
internal sealed class AgentHarness
{
    public required IceAgent Agent { get; init; }
    public List<OutgoingDatagram> Sent { get; } = [];
    public List<OutgoingDatagram> SentViaRelay { get; } = [];
    public List<IceEvent> Events { get; } = [];

    /// <summary>Runs the agent's timeouts until <paramref name="until"/>, collecting what it sends and reports.</summary>
    public void RunUntil(TimeSpan until)
    {
        while (Agent.NextWakeUp is { } due && due <= until)
        {
            Agent.HandleTimeout(due);
            Drain(due);
        }
        Drain(until);
    }

    public void Drain(TimeSpan now)
    {
        while (Agent.TryPollTransmit(now, out OutgoingDatagram datagram))
        {
            Sent.Add(datagram);
        }
        while (Agent.TryPollRelayTransmit(out OutgoingDatagram datagram))
        {
            SentViaRelay.Add(datagram);
        }
        while (Agent.TryPollEvent(out IceEvent e))
        {
            Events.Add(e);
        }
    }

    /// <summary>Binding requests (checks and probes) sent to <paramref name="address"/>, any port but <paramref name="except"/>.</summary>
    public List<OutgoingDatagram> ChecksTo(IPAddress address, int except = -1) =>
        [.. Sent.Where(d => d.To.Address.Equals(address) && d.To.Port != except && IsRequest(d))];

    public static StunMessage Parse(OutgoingDatagram datagram)
    {
        StunMessage.TryParse(datagram.Payload.Span, out StunMessage message, out _).ShouldBeTrue();
        return message;
    }

    private static bool IsRequest(OutgoingDatagram d) => Parse(d).Type == StunMessageType.BindingRequest;
}
