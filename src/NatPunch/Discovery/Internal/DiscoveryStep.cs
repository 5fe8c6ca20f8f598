namespace NatPunch.Discovery.Internal;

/// <summary>What the discovery core asks of its driver after a poll.</summary>
/// <param name="Start">Probes to start now.</param>
/// <param name="WakeUp">When to poll again even if no probe finishes; null for "only when one does".</param>
/// <param name="IsComplete">The report is ready; probes still running can be abandoned.</param>
internal readonly record struct DiscoveryStep(IReadOnlyList<DiscoveryProbe> Start, TimeSpan? WakeUp, bool IsComplete);
