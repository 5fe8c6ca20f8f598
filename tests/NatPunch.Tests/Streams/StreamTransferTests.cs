using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>Whole transfers through the simulator: integrity, end of stream, both directions at once.</summary>
public class StreamTransferTests(ITestOutputHelper output)
{
    private const long MB = 1024 * 1024;

    public static TheoryData<string, double, double, double, long> Conditions => new()
    {
        // name, loss, duplication, reordering, bytes each way
        { "clean", 0.0, 0.0, 0.0, 20 * MB },
        { "1% loss", 0.01, 0.0, 0.0, 8 * MB },
        { "5% loss", 0.05, 0.0, 0.0, 4 * MB },
        { "20% loss", 0.20, 0.0, 0.0, 2 * MB },
        { "reorder+dup", 0.0, 0.05, 0.10, 8 * MB },
        { "5% loss+reorder+dup", 0.05, 0.05, 0.10, 4 * MB },
    };

    [Theory]
    [MemberData(nameof(Conditions))]
    public void BothDirectionsArriveIntact(string name, double loss, double duplication, double reordering, long bytes)
    {
        var link = new LinkConditions
        {
            Delay = TimeSpan.FromMilliseconds(10),
            Jitter = TimeSpan.FromMilliseconds(1),
            Loss = loss,
            Duplication = duplication,
            Reordering = reordering,
            ReorderDelay = TimeSpan.FromMilliseconds(4),
            BitsPerSecond = 100_000_000,
            QueueBytes = 256 * 1024,
        };
        var sim = new StreamSimulation(link, link, bytes, bytes, seed: name.Length);
        sim.Run(TimeSpan.FromMinutes(30));

        AssertDelivered(sim.A, sim.B);
        AssertDelivered(sim.B, sim.A);
        var a = sim.A.Core.GetStatistics();
        var b = sim.B.Core.GetStatistics();
        output.WriteLine($"{name}: {bytes / MB} MB each way in {sim.Now.TotalSeconds:F2} s simulated ({sim.Steps} steps)");
        output.WriteLine($"  links: A→B {sim.LinkAToB.Sent} sent, {sim.LinkAToB.RandomDrops} lost, {sim.LinkAToB.QueueDrops} queue drops; B→A {sim.LinkBToA.Sent} sent, {sim.LinkBToA.RandomDrops} lost, {sim.LinkBToA.QueueDrops} queue drops");
        output.WriteLine($"  A: {a}");
        output.WriteLine($"  B: {b}");
    }

    internal static void AssertDelivered(SimulatedEndpoint from, SimulatedEndpoint to)
    {
        to.BytesRead.ShouldBe(from.BytesToSend);
        to.ReceivedHash.ShouldNotBeNull();
        to.ReceivedHash.ShouldBe(from.SentHash);
        to.EndOfStreamTransitions.ShouldBe(1);
        to.BytesReadAfterEndOfStream.ShouldBe(0);
        from.Core.IsWriteCompleted.ShouldBeTrue();
    }
}
