using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Stun;

namespace NatPunch.Traversal;

public sealed partial class IceAgent
{
    private int _gatheringOutstanding;
    // The mapping test (RFC 5780 §4.3, in brief): our public address toward the STUN server's primary
    // address, then toward its other address (OTHER-ADDRESS: another IP and port), from this socket.
    private IPEndPoint? _mappedTowardPrimary;
    private bool _mappingTestSent;

    /// <summary>
    /// Whether our NAT gives this socket another public address (port) per destination, as a
    /// symmetric NAT does (RFC 4787 address- or address-and-port-dependent mapping): learnt from the
    /// STUN server's answers to its primary and its other address. Null when unknown: the server
    /// gives no OTHER-ADDRESS (it runs without an alternate address), or one of them did not answer.
    /// </summary>
    public bool? MappingVaries { get; private set; }

    /// <summary>
    /// When our mapping varies: the public port toward the server's other address minus the one
    /// toward its primary (same public IP only); the peer predicts our next ports from it.
    /// </summary>
    public int? MappingPortStep { get; private set; }

    /// <summary>What the peer's offer says of its mapping (<see cref="MappingVaries"/>); null if it did not say.</summary>
    public bool? PeerMappingVaries { get; private set; }

    /// <summary>
    /// Why hole punching cannot make a direct path, when the two sides' mapping tests say so (one or
    /// both NATs symmetric); null when they do not. Said when a session ends up on the relay.
    /// </summary>
    public string? WhyNoDirectPath => (MappingVaries, PeerMappingVaries) switch
    {
        (true, true) => "both NATs change their public port per destination (symmetric NATs): neither side's punched port can be found by the other",
        (true, _) => "our NAT changes its public port per destination (a symmetric NAT): the peer cannot find the port we punch from" + ProbingState,
        (_, true) => "the peer's NAT changes its public port per destination (a symmetric NAT): we cannot find the port it punches from" + ProbingState,
        _ => null,
    };

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
            StartServerBinding(IceTransactionKind.Gather, destination, now);
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

    /// <summary>The round trip of the first answer from a STUN server (from the first send: an upper bound if one was lost).</summary>
    public TimeSpan? ServerRoundTrip { get; private set; }

    private void HandleGatherResponse(StunMessage response, IceTransaction transaction, TimeSpan now)
    {
        StunServerAnswered = true;
        ServerRoundTrip ??= now - transaction.Schedule.StartedAt;
        if (transaction.Kind == IceTransactionKind.MappingTest)
        {
            if (response.Type.Class == StunClass.SuccessResponse && response.TryGetMappedAddress(out IPEndPoint other) && _mappedTowardPrimary is { } primary)
            {
                other = Candidate.Normalize(other);
                MappingVaries = !other.Equals(primary);
                if (MappingVaries == true && other.Address.Equals(primary.Address))
                {
                    MappingPortStep = other.Port - primary.Port;
                }
            }
            GatherFinished();
            return;
        }
        if (response.Type.Class == StunClass.SuccessResponse && response.TryGetMappedAddress(out IPEndPoint mapped))
        {
            mapped = Candidate.Normalize(mapped);
            StartMappingTest(response, transaction.Destination, mapped, now);
            bool known = _localCandidates.Exists(c => !c.IsTcp && c.EndPoint.Equals(mapped));
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

    /// <summary>Once per agent: a Binding to the server's other address, whose answer tells whether our mapping changed with the destination.</summary>
    private void StartMappingTest(StunMessage response, IPEndPoint primary, IPEndPoint mapped, TimeSpan now)
    {
        if (_mappingTestSent || !response.TryGetAddress(StunAttributeType.OtherAddress, out IPEndPoint other))
        {
            return;
        }
        other = Candidate.Normalize(other);
        if (other.Address.Equals(primary.Address) || other.AddressFamily != primary.AddressFamily)
        {
            return; // not another address: it would not tell an address-dependent mapping apart
        }
        _mappingTestSent = true;
        _mappedTowardPrimary = mapped;
        StartServerBinding(IceTransactionKind.MappingTest, other, now);
    }

    /// <summary>A plain Binding request to a STUN server, retransmitted until it answers or the gathering timeout; gathering waits for it.</summary>
    private void StartServerBinding(IceTransactionKind kind, IPEndPoint destination, TimeSpan now)
    {
        var id = TransactionId.NewRandom();
        var buffer = new byte[64];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, id);
        builder.AddFingerprint();
        StartTransaction(new IceTransaction
        {
            Id = id,
            Kind = kind,
            Destination = destination,
            Schedule = IceTransaction.Scheduled(builder.Written.ToArray(), _options.GatherRetransmit, _options.GatherTimeout, now + _options.GatherTimeout),
        }, now);
        _gatheringOutstanding++;
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
            Send(transaction.Destination, step.Datagram, transaction.Route);
        }
    }
}
