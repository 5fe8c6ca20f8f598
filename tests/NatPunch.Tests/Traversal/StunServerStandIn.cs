using System.Net;
using NatPunch.Core;
using NatPunch.Protocol.Stun;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>Answers an agent's Binding requests to STUN servers as a server would, for the agent's unit tests.</summary>
internal static class StunServerStandIn
{
    /// <summary>
    /// Answers every Binding request the agent has queued (and those its answers make it send: the
    /// mapping test) with <paramref name="mapped"/>(destination), and OTHER-ADDRESS
    /// <paramref name="otherAddress"/> when given; a destination mapped to null goes unanswered.
    /// Returns the destinations asked, in order.
    /// </summary>
    public static List<IPEndPoint> Answer(IceAgent agent, TimeSpan now, Func<IPEndPoint, IPEndPoint?> mapped, IPEndPoint? otherAddress)
    {
        var asked = new List<IPEndPoint>();
        while (agent.TryPollTransmit(now, out OutgoingDatagram request))
        {
            asked.Add(request.To);
            StunMessage.TryParse(request.Payload.Span, out StunMessage parsed, out _).ShouldBeTrue();
            if (mapped(request.To) is not { } address)
            {
                continue;
            }
            var buffer = new byte[128];
            var builder = new StunMessageBuilder(buffer, StunMessageType.BindingSuccess, parsed.TransactionId);
            builder.AddXorAddress(StunAttributeType.XorMappedAddress, address);
            if (otherAddress is not null)
            {
                builder.AddAddress(StunAttributeType.OtherAddress, otherAddress);
            }
            builder.AddFingerprint();
            agent.HandleDatagram(builder.Written, request.To, now);
        }
        return asked;
    }
}
