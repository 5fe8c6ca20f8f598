using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>
/// Test helper: a blocking Binding exchange from a bare socket (one whose <see cref="VirtualSocket.Inbox"/>
/// collects answers), run inside the simulation. Transaction ids come from the simulator's random
/// generator so that runs stay byte-identical.
/// </summary>
internal static class StunProbe
{
    /// <summary>What one Binding request brought back; null fields when there was no answer.</summary>
    public sealed record Answer(IPEndPoint Mapped, IPEndPoint From, IPEndPoint? ResponseOrigin, IPEndPoint? OtherAddress);

    public static byte[] BindingRequest(Random random, ChangeRequestFlags change = ChangeRequestFlags.None, int responsePort = 0)
    {
        var buffer = new byte[128];
        var id = new TransactionId((ulong)random.NextInt64(), (uint)random.Next());
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, id);
        if (change != ChangeRequestFlags.None)
        {
            builder.AddUInt32(StunAttributeType.ChangeRequest, (uint)change);
        }
        if (responsePort != 0)
        {
            builder.AddUInt32(StunAttributeType.ResponsePort, (uint)responsePort << 16);
        }
        return builder.Written.ToArray();
    }

    /// <summary>Sends a Binding request to <paramref name="server"/> and runs the simulation until the answer or <paramref name="timeout"/>; empties the inbox.</summary>
    public static Answer? Query(VirtualSocket socket, IPEndPoint server, ChangeRequestFlags change = ChangeRequestFlags.None,
        TimeSpan? timeout = null)
    {
        Simulator sim = socket.Simulator;
        byte[] request = BindingRequest(sim.Random, change);
        TransactionId id = TransactionId.Read(request.AsSpan(8));
        socket.ClearInbox();
        socket.Send(server, request);
        Answer? answer = null;
        sim.RunUntil(() => (answer = socket.Inbox.Select(Parse).FirstOrDefault(a => a?.Id == id)?.Answer) is not null,
            timeout ?? TimeSpan.FromSeconds(1));
        socket.ClearInbox(); // consumed: later assertions on the inbox see only what came after
        return answer;
    }

    public static (TransactionId Id, Answer Answer)? Parse(ReceivedDatagram datagram)
    {
        if (!StunMessage.TryParse(datagram.Payload, out StunMessage message, out _) || !message.TryGetMappedAddress(out IPEndPoint mapped))
        {
            return null;
        }
        message.TryGetAddress(StunAttributeType.ResponseOrigin, out IPEndPoint? origin);
        message.TryGetAddress(StunAttributeType.OtherAddress, out IPEndPoint? other);
        return (message.TransactionId, new Answer(mapped, datagram.From, origin, other));
    }
}
