using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.Traversal;

public sealed partial class IceAgent
{
    private int _gatheringOutstanding;

    /// <summary>Sends a Binding request to each STUN server from the data socket (RFC 8445 §5.1.1.2).</summary>
    private void StartGathering(IReadOnlyList<IPEndPoint> stunServers, TimeSpan now)
    {
        foreach (IPEndPoint server in stunServers)
        {
            IPEndPoint destination = Candidate.Normalize(server);
            if (!_bases.ContainsKey(destination.AddressFamily))
            {
                continue; // no local address of that family
            }
            var id = TransactionId.NewRandom();
            var buffer = new byte[64];
            var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, id);
            builder.AddFingerprint();
            StartTransaction(new IceTransaction
            {
                Id = id,
                Kind = IceTransactionKind.Gather,
                Destination = destination,
                Schedule = IceTransaction.Scheduled(builder.Written.ToArray(), _options.GatherRetransmit, _options.GatherTimeout, now + _options.GatherTimeout),
            }, now);
            _gatheringOutstanding++;
        }
        if (_gatheringOutstanding == 0)
        {
            _events.Enqueue(new IceEvent.GatheringComplete(_localCandidates.Count));
        }
    }


    /// <summary>True once every STUN server answered or timed out.</summary>
    public bool GatheringComplete => _gatheringOutstanding == 0;

    /// <summary>A STUN server answered over UDP at least once (false suggests a network that blocks UDP).</summary>
    public bool StunServerAnswered { get; private set; }

    private void HandleGatherResponse(StunMessage response, IceTransaction transaction)
    {
        StunServerAnswered = true;
        if (response.Type.Class == StunClass.SuccessResponse && response.TryGetMappedAddress(out IPEndPoint mapped))
        {
            mapped = Candidate.Normalize(mapped);
            bool known = _localCandidates.Exists(c => c.EndPoint.Equals(mapped));
            if (!known && _bases.TryGetValue(mapped.AddressFamily, out Candidate? baseCandidate))
            {
                int localPreference = (int)((baseCandidate.Priority >> 8) & 0xFFFF);
                uint priority = Candidate.ComputePriority(CandidateType.ServerReflexive, localPreference);
                AddLocalCandidate(new Candidate(CandidateType.ServerReflexive, mapped, priority,
                    $"s{_localCandidates.Count}", baseCandidate.EndPoint));
            }
        }
        GatherFinished();
    }

    private void GatherFinished()
    {
        if (--_gatheringOutstanding == 0)
        {
            _events.Enqueue(new IceEvent.GatheringComplete(_localCandidates.Count));
        }
    }

    private void StartTransaction(IceTransaction transaction, TimeSpan now)
    {
        _transactions[transaction.Id] = transaction;
        SendStep(transaction, transaction.Schedule.Poll(now));
    }

    private void SendStep(IceTransaction transaction, StunTransactionStep step)
    {
        if (step.ShouldSend)
        {
            Send(transaction.Destination, step.Datagram, transaction.ViaRelay);
        }
    }
}
