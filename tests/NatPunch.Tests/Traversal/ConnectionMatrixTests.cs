using System.Globalization;
using System.Net;
using System.Text;
using NatPunch.Session;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// The whole introduction (gather, register, connect, introduce, checks at the coordinated moment,
/// nomination) for every pair of NAT types, in the virtual network (<see cref="IntroductionScenario"/>
/// has the topology and latencies; docs/connection-time.md the results).
/// </summary>
/// <remarks>
/// Connection time runs from the connect (both peers registered) to the moment the second peer
/// selected its pair. Clean, it must fit in one server RTT (the introduction reaches the farther peer
/// and both start together) + two peer RTTs (a check, then the nomination) + 50 ms. With 5 % loss each
/// way and 0–10 ms jitter on each peer's link, it must connect all the same, within a second more
/// (retransmissions after 100, 200 and 400 ms).
/// </remarks>
public class ConnectionMatrixTests(ConnectionMatrixRuns runs) : IClassFixture<ConnectionMatrixRuns>
{
    private static readonly TimeSpan LossyExtra = TimeSpan.FromSeconds(1);

    public static TheoryData<string, string> ConePairs()
    {
        var data = new TheoryData<string, string>();
        foreach (string listener in ConnectionMatrixRuns.ConeTypes)
        {
            foreach (string connector in ConnectionMatrixRuns.ConeTypes)
            {
                data.Add(listener, connector);
            }
        }
        return data;
    }

    public static TheoryData<string> ConeNats() => new("FullCone", "RestrictedCone", "PortRestrictedCone");

    /// <summary>A symmetric NAT on one side, a NAT that filters by port (or another symmetric one) on the other.</summary>
    public static TheoryData<string, string> SymmetricAgainstPortFiltering() => new()
    {
        { "Symmetric", "PortRestrictedCone" },
        { "PortRestrictedCone", "Symmetric" },
        { "Symmetric", "Symmetric" },
    };

    /// <summary>A symmetric NAT on one side, no NAT or a NAT that does not filter by port on the other.</summary>
    public static TheoryData<string, string> SymmetricAgainstNoPortFiltering()
    {
        var data = new TheoryData<string, string>();
        foreach (string other in new[] { "NoNat", "FullCone", "RestrictedCone" })
        {
            data.Add("Symmetric", other);
            data.Add(other, "Symmetric");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ConePairs))]
    public void ConePairsConnectDirectlyWithinOneServerAndTwoPeerRoundTrips(string listener, string connector)
    {
        ConnectionOutcome outcome = runs.Get(RunKey.Clean(listener, connector));
        IntroductionScenario scenario = outcome.Scenario;

        AssertDirect(outcome);
        outcome.ConnectionTime.ShouldBeLessThanOrEqualTo(scenario.Bound, scenario.Diagnostics());
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{listener} listens, {connector} connects: {Ms(outcome.ConnectionTime)} (bound {Ms(scenario.Bound)})");
    }

    [Theory]
    [MemberData(nameof(ConePairs))]
    public void ConePairsConnectDirectlyUnderLossAndJitter(string listener, string connector)
    {
        var times = new List<TimeSpan>();
        for (int seed = 1; seed <= ConnectionMatrixRuns.LossySeeds; seed++)
        {
            ConnectionOutcome outcome = runs.Get(RunKey.Impaired(listener, connector, seed));
            AssertDirect(outcome);
            outcome.ConnectionTime.ShouldBeLessThanOrEqualTo(outcome.Scenario.Bound + LossyExtra, outcome.Scenario.Diagnostics());
            times.Add(outcome.ConnectionTime);
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{listener} listens, {connector} connects: {string.Join(", ", times.Select(Ms))}");
    }

    // Both hosts behind one NAT: the hosts reach each other on the LAN (the presets don't hairpin, so
    // the server-reflexive pairs don't even work) and must select their host candidates.
    [Theory]
    [MemberData(nameof(ConeNats))]
    public void PeersBehindOneNatSelectTheirLanAddresses(string nat)
    {
        ConnectionOutcome outcome = runs.Get(RunKey.CleanSameNat(nat));
        AssertDirect(outcome);
        outcome.ConnectionTime.ShouldBeLessThanOrEqualTo(outcome.Scenario.Bound, outcome.Scenario.Diagnostics());
        for (int seed = 1; seed <= ConnectionMatrixRuns.LossySeeds; seed++)
        {
            ConnectionOutcome lossy = runs.Get(RunKey.ImpairedSameNat(nat, seed));
            AssertDirect(lossy);
            lossy.ConnectionTime.ShouldBeLessThanOrEqualTo(lossy.Scenario.Bound + LossyExtra, lossy.Scenario.Diagnostics());
        }
    }

    // RFC 5128 §3.3/§3.4 (and RFC 4787 §5): the symmetric side reaches the other from a fresh mapping
    // whose port nobody could learn in advance. A peer that filters by address and port drops it; a
    // symmetric one also drops the other's checks to the mapping the STUN server saw, which admits only
    // the STUN server. No direct path exists: these pairs need a relay (TURN, a later issue), and the
    // agents must say so with IceEvent.Failed at the end of the check timeout rather than hang.
    [Theory]
    [MemberData(nameof(SymmetricAgainstPortFiltering))]
    public void SymmetricAgainstPortFilteringFailsDirectAndNeedsARelay(string listener, string connector)
    {
        foreach (RunKey key in new[] { RunKey.Clean(listener, connector) }
            .Concat(Enumerable.Range(1, ConnectionMatrixRuns.LossySeeds).Select(seed => RunKey.Impaired(listener, connector, seed))))
        {
            ConnectionOutcome outcome = runs.Get(key);
            IntroductionScenario scenario = outcome.Scenario;
            outcome.BothFailed.ShouldBeTrue(scenario.Diagnostics());
            scenario.Listener.Selected.ShouldBeNull(scenario.Diagnostics());
            scenario.Connector.Selected.ShouldBeNull(scenario.Diagnostics());
            foreach (SimulatedPeer peer in new[] { scenario.Listener, scenario.Connector })
            {
                peer.PathEvents.Count(e => e.Event is PathEvent.Failed).ShouldBe(1);
                (TimeSpan at, PathEvent.Failed failed) = peer.Failed!.Value;
                failed.Failure.ShouldBe(PathFailure.NoPath);
                failed.Reason.ShouldContain("candidate pairs answered within 10 s");
                // Reported when the check window closes, not long after.
                (at - peer.ChecksStartAt!.Value).ShouldBeLessThanOrEqualTo(IceAgentOptions.Default.CheckTimeout + TimeSpan.FromSeconds(1));
            }
        }
    }

    // RFC 5128 §3.3/§3.4: without port-dependent filtering on the other side, the symmetric side's
    // checks from its fresh mapping get in; the other side learns that mapping as a peer-reflexive
    // candidate (RFC 8445 §7.3.1.3) and its triggered check back goes through the mapping the symmetric
    // side just opened. So these connect directly, one peer RTT later at worst: the cone side can only
    // start its useful check when the symmetric side's first check arrives, half a round trip in.
    [Theory]
    [MemberData(nameof(SymmetricAgainstNoPortFiltering))]
    public void SymmetricAgainstNoPortFilteringConnectsThroughAPeerReflexiveCandidate(string listener, string connector)
    {
        ConnectionOutcome outcome = runs.Get(RunKey.Clean(listener, connector));
        IntroductionScenario scenario = outcome.Scenario;
        AssertDirect(outcome);
        outcome.ConnectionTime.ShouldBeLessThanOrEqualTo(scenario.Bound + scenario.PeerRoundTrip, scenario.Diagnostics());
        SimulatedPeer symmetric = listener == "Symmetric" ? scenario.Listener : scenario.Connector;
        SimulatedPeer other = symmetric == scenario.Listener ? scenario.Connector : scenario.Listener;
        Candidate remote = other.Selected!.Value.Event.Remote;
        remote.Type.ShouldBe(CandidateType.PeerReflexive, scenario.Diagnostics());
        remote.EndPoint.ShouldNotBe(ServerReflexive(symmetric), "a symmetric NAT maps the peer's address to a port of its own");
        for (int seed = 1; seed <= ConnectionMatrixRuns.LossySeeds; seed++)
        {
            ConnectionOutcome lossy = runs.Get(RunKey.Impaired(listener, connector, seed));
            AssertDirect(lossy);
            lossy.ConnectionTime.ShouldBeLessThanOrEqualTo(lossy.Scenario.Bound + lossy.Scenario.PeerRoundTrip + LossyExtra, lossy.Scenario.Diagnostics());
        }
    }

    /// <summary>Prints the tables of docs/connection-time.md (run with the console logger at detailed verbosity to see them).</summary>
    [Fact]
    public void ConnectionTimeTables()
    {
        string[] all = [.. ConnectionMatrixRuns.ConeTypes, "Symmetric"];
        var text = new StringBuilder();
        IntroductionScenario reference = runs.Get(RunKey.Clean("PortRestrictedCone", "PortRestrictedCone")).Scenario;
        text.AppendLine(CultureInfo.InvariantCulture, $"Clean: ms from connect to both selected (bound {Ms(reference.Bound)} = server RTT {Ms(reference.ServerRoundTrip)} + 2 x peer RTT {Ms(reference.PeerRoundTrip)} + {Ms(IntroductionScenario.Slack)})");
        AppendTable(text, all, (l, c) => Cell(runs.Get(RunKey.Clean(l, c))));
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Lossy (5 % loss each way, 0-10 ms jitter on each peer's link): median / max over seeds 1-{ConnectionMatrixRuns.LossySeeds}");
        AppendTable(text, all, (l, c) => LossyCell(seed => RunKey.Impaired(l, c, seed)));
        text.AppendLine();
        IntroductionScenario sameNat = runs.Get(RunKey.CleanSameNat("PortRestrictedCone")).Scenario;
        text.AppendLine(CultureInfo.InvariantCulture, $"Both behind one NAT (bound {Ms(sameNat.Bound)} = server RTT {Ms(sameNat.ServerRoundTrip)} + 2 x LAN RTT {Ms(sameNat.PeerRoundTrip)} + {Ms(IntroductionScenario.Slack)})");
        text.AppendLine("| NAT | clean | lossy median / max |");
        text.AppendLine("|---|---|---|");
        foreach (string nat in new[] { "FullCone", "RestrictedCone", "PortRestrictedCone" })
        {
            text.AppendLine($"| {nat} | {Cell(runs.Get(RunKey.CleanSameNat(nat)))} | {LossyCell(seed => RunKey.ImpairedSameNat(nat, seed))} |");
        }
        TestContext.Current.TestOutputHelper?.WriteLine(text.ToString());
        // Every cell was asserted by the theories above; here only that the runs are there to print.
        runs.Get(RunKey.Clean("FullCone", "FullCone")).BothSelected.ShouldBeTrue();
    }

    private static void AppendTable(StringBuilder text, string[] types, Func<string, string, string> cell)
    {
        text.AppendLine($"| listener \\ connector | {string.Join(" | ", types)} |");
        text.AppendLine($"|---|{string.Concat(types.Select(_ => "---|"))}");
        foreach (string listener in types)
        {
            text.AppendLine($"| {listener} | {string.Join(" | ", types.Select(connector => cell(listener, connector)))} |");
        }
    }

    private static string Cell(ConnectionOutcome outcome) =>
        outcome.BothSelected ? ((int)outcome.ConnectionTime.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)
        : outcome.BothFailed ? "fails (relay)" : "undecided";

    private string LossyCell(Func<int, RunKey> key)
    {
        List<ConnectionOutcome> outcomes = Enumerable.Range(1, ConnectionMatrixRuns.LossySeeds).Select(seed => runs.Get(key(seed))).ToList();
        if (outcomes.All(o => o.BothFailed))
        {
            return "fails (relay)";
        }
        if (!outcomes.All(o => o.BothSelected))
        {
            return "mixed";
        }
        List<int> ms = outcomes.Select(o => (int)o.ConnectionTime.TotalMilliseconds).Order().ToList();
        return string.Create(CultureInfo.InvariantCulture, $"{ms[(ms.Count - 1) / 2]} / {ms[^1]}");
    }

    /// <summary>
    /// Both peers selected a pair, and it is direct: each sends to the other's own address (no NAT),
    /// to the other's NAT mapping (the server-reflexive candidate, or for a symmetric NAT the
    /// peer-reflexive one), or, behind one NAT, to the other's LAN address.
    /// </summary>
    private static void AssertDirect(ConnectionOutcome outcome)
    {
        IntroductionScenario scenario = outcome.Scenario;
        outcome.BothSelected.ShouldBeTrue(scenario.Diagnostics());
        AssertSendsTo(scenario.Listener, scenario.Connector, scenario);
        AssertSendsTo(scenario.Connector, scenario.Listener, scenario);
    }

    private static void AssertSendsTo(SimulatedPeer from, SimulatedPeer to, IntroductionScenario scenario)
    {
        Candidate local = from.Selected!.Value.Event.Local;
        Candidate remote = from.Selected.Value.Event.Remote;
        local.EndPoint.ShouldBe(from.Socket.SourceEndPoint);
        if (scenario.SameNat || !to.Router.IsTranslating)
        {
            remote.Type.ShouldBe(CandidateType.Host, scenario.Diagnostics());
            remote.EndPoint.ShouldBe(to.Socket.SourceEndPoint, scenario.Diagnostics());
        }
        else if (to.Router.Behavior.Mapping == MappingBehavior.EndpointIndependent)
        {
            remote.EndPoint.ShouldBe(ServerReflexive(to), scenario.Diagnostics());
        }
        else
        {
            remote.EndPoint.Address.ShouldBe(to.Router.PublicAddress, scenario.Diagnostics());
        }
    }

    private static IPEndPoint ServerReflexive(SimulatedPeer peer) =>
        peer.Agent.LocalCandidates.Single(c => c.Type == CandidateType.ServerReflexive).EndPoint;

    private static string Ms(TimeSpan time) => string.Create(CultureInfo.InvariantCulture, $"{time.TotalMilliseconds:0.#} ms");
}
