namespace NatPunch.Streams;

/// <summary>
/// A channel that takes the segments of one loop turn in one call, so that the path under it can
/// send them together (UDP GSO: one system call and one trip through the stack for the lot). The
/// stream uses it instead of <see cref="ISegmentChannel.SendAsync"/> when the channel offers it.
/// Must not block for long and must not keep the batch after returning.
/// </summary>
internal interface ISegmentBatchChannel : ISegmentChannel
{
    void SendBatch(SegmentBatch batch);
}
