namespace NatPunch.LabTests.Lab;

/// <summary>
/// Every lab test is in this one collection: they share one lab (and its loss and block-udp
/// knobs), so they run one after the other, never in parallel.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LabCollection : ICollectionFixture<LabFixture>
{
    public const string Name = "NAT lab";
}
