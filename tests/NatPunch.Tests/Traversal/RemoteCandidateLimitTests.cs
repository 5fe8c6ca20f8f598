using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// Candidates come through the rendezvous: a peer or a hostile server must not make us probe any
/// number of addresses. Signalled candidates and pairs are capped (RFC 8445 §6.1.2.5: 100 pairs).
/// </summary>
public sealed class RemoteCandidateLimitTests
{
    [Fact]
    public void ThousandsOfSignalledCandidatesBecomeAtMostTheCapAndNoMoreThanAHundredPairs()
    {
        var agent = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [IPEndPoint.Parse("192.0.2.1:5000")], [], IceAgentOptions.Default, TimeSpan.Zero);
        agent.SetRemoteCredentials(IceCredentials.NewRandom());
        var flood = Enumerable.Range(0, 5000)
            .Select(i => new Candidate(CandidateType.Host, new IPEndPoint(IPAddress.Parse($"198.51.{i / 250}.{i % 250 + 1}"), 1000 + i), 1000, $"f{i}"));
        agent.AddRemoteCandidates(flood, TimeSpan.Zero);
        agent.Pairs.Count.ShouldBeLessThanOrEqualTo(IceAgentOptions.Default.MaxPairs);
        agent.Pairs.Count.ShouldBe(IceAgentOptions.Default.MaxRemoteCandidates); // one host candidate: one pair each
        agent.IgnoredRemoteCandidates.ShouldBe(5000 - IceAgentOptions.Default.MaxRemoteCandidates);
    }

    [Fact]
    public void ThePairCapHoldsWithSeveralLocalCandidates()
    {
        var options = IceAgentOptions.Default with { MaxRemoteCandidates = 1000 };
        var agent = new IceAgent(IceRole.Controlling, IceCredentials.NewRandom(), [IPEndPoint.Parse("192.0.2.1:5000")], [], options, TimeSpan.Zero);
        agent.SetRemoteCredentials(IceCredentials.NewRandom());
        agent.AddRemoteCandidates(Enumerable.Range(0, 500)
            .Select(i => new Candidate(CandidateType.Host, new IPEndPoint(IPAddress.Parse($"198.51.{i / 250}.{i % 250 + 1}"), 2000 + i), 1000, $"g{i}")), TimeSpan.Zero);
        agent.Pairs.Count.ShouldBe(options.MaxPairs);
    }
}
