using System.Collections.Concurrent;
using NatPunch.Tests.VirtualNetwork;

namespace NatPunch.Tests.Traversal;

/// <summary>
/// The introductions of <see cref="ConnectionMatrixTests"/>, each run once and shared by the test
/// that asserts on it and the test that prints the table.
/// </summary>
public sealed class ConnectionMatrixRuns
{
    /// <summary>The NATs of the matrix: every pair of them must connect directly.</summary>
    public static readonly string[] ConeTypes = ["NoNat", "FullCone", "RestrictedCone", "PortRestrictedCone"];

    /// <summary>Seeds of the lossy runs (the clean runs draw no random numbers but the symmetric NAT's ports; they use seed 1).</summary>
    public const int LossySeeds = 10;

    /// <summary>Each peer's host link, both ways, in the lossy runs (its 1 ms latency stays).</summary>
    internal static readonly LinkConditions Impairment = new() { LossRate = 0.05, Jitter = TimeSpan.FromMilliseconds(10) };

    /// <summary>How long a run may take after the connect: a failure is reported after the 10 s check timeout.</summary>
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<RunKey, Lazy<ConnectionOutcome>> _runs = new();

    internal ConnectionOutcome Get(RunKey key) =>
        _runs.GetOrAdd(key, k => new Lazy<ConnectionOutcome>(() => Run(k))).Value;

    private static ConnectionOutcome Run(RunKey key)
    {
        var scenario = new IntroductionScenario(key.Seed, NatBehavior.Preset(key.Listener), NatBehavior.Preset(key.Connector),
            key.SameNat, key.Lossy ? Impairment : null);
        return scenario.ListenAndConnect(RunLimit);
    }
}

/// <summary>One introduction of the matrix: the listener's and the connector's NAT (one NAT for both when <paramref name="SameNat"/>).</summary>
internal readonly record struct RunKey(string Listener, string Connector, bool SameNat, bool Lossy, int Seed)
{
    public static RunKey Clean(string listener, string connector) => new(listener, connector, false, false, 1);

    public static RunKey CleanSameNat(string nat) => new(nat, nat, true, false, 1);

    public static RunKey Impaired(string listener, string connector, int seed) => new(listener, connector, false, true, seed);

    public static RunKey ImpairedSameNat(string nat, int seed) => new(nat, nat, true, true, seed);
}
