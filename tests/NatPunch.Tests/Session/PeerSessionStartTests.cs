using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Session;
using NatPunch.Traversal;

namespace NatPunch.Tests.Session;

public class PeerSessionStartTests
{
    /// <summary>
    /// The agent asks the STUN server for its mapping when it is made; the session has that request
    /// to send at once. (It used to wait in the agent until the first timer, the retransmission 250 ms
    /// later, which delayed every gathering, and so every connection and every offer, by 250 ms.)
    /// </summary>
    [Fact]
    public void ANewSessionHasTheAgentsFirstStunRequestToSendAtOnce()
    {
        var stun = new IPEndPoint(IPAddress.Parse("203.0.113.10"), 3478);
        var host = new IPEndPoint(IPAddress.Parse("192.168.1.2"), 5000);
        var session = new PeerSession(now => new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [host], [stun], IceAgentOptions.Default, now), TimeSpan.Zero);

        session.TryPollTransmit(out SessionTransmit transmit).ShouldBeTrue();
        transmit.To.ShouldBe(stun);
        StunMessage.TryParse(transmit.Payload.Span, out StunMessage request, out _).ShouldBeTrue();
        request.Type.ShouldBe(StunMessageType.BindingRequest);
    }
}
