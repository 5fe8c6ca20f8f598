using NatPunch.Streams;

namespace NatPunch.Session;

/// <summary>
/// One stream's view of the session (<see cref="StreamMux"/>): its segments go out through the
/// session's sealed path, and the mux hands it the segments that carry its id, on the thread they
/// arrived on.
/// </summary>
internal sealed class MuxedSegmentChannel(IStreamMuxHost host) : ISegmentPushChannel, ISegmentBatchChannel
{
    private volatile ISegmentReceiver? _receiver;

    public ValueTask SendAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken) =>
        throw new NotSupportedException("A muxed stream's segments go out in batches (SendBatch).");

    public void SendBatch(SegmentBatch batch) => host.SendSegments(batch);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        throw new NotSupportedException("A muxed stream's segments are pushed to it.");

    public void PushTo(ISegmentReceiver receiver) => _receiver = receiver;

    /// <summary>A segment with this stream's id arrived.</summary>
    public void Deliver(ReadOnlySpan<byte> segment) => _receiver?.OnSegment(segment);

    /// <summary>The session is gone: nothing more will arrive.</summary>
    public void Close(Exception reason) => _receiver?.OnChannelClosed(reason);
}
