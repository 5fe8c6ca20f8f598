using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

public sealed class SegmentBatchTests
{
    [Fact]
    public void SegmentsComeBackAsWrittenUntilTheBatchIsFull()
    {
        var batch = new SegmentBatch(capacity: 3, slotSize: 8);
        for (byte i = 1; i <= 3; i++)
        {
            batch.IsFull.ShouldBeFalse();
            Span<byte> slot = batch.NextSlot;
            slot.Length.ShouldBe(8);
            slot[..i].Fill(i);
            batch.Commit(i);
        }

        batch.IsFull.ShouldBeTrue();
        Should.Throw<InvalidOperationException>(() => batch.Commit(1));
        batch.Count.ShouldBe(3);
        batch[0].ToArray().ShouldBe(new byte[] { 1 });
        batch[2].ToArray().ShouldBe(new byte[] { 3, 3, 3 });
        Should.Throw<ArgumentOutOfRangeException>(() => batch[3].ToArray());
    }

    [Fact]
    public void ClearAndReleaseEmptyTheBatchForTheNextTurn()
    {
        var batch = new SegmentBatch(capacity: 2, slotSize: 4);
        batch.NextSlot.Fill(9);
        batch.Commit(4);
        batch.Clear();
        batch.Count.ShouldBe(0);

        batch.NextSlot.Fill(7);
        batch.Commit(2);
        batch.Release();
        batch.Count.ShouldBe(0);
        Should.Throw<ArgumentOutOfRangeException>(() => batch.Commit(5));
    }
}
