namespace NatPunch.Streams;

/// <summary>
/// A segment channel that hands each arriving segment to its stream as it comes, on the channel's
/// own receiving thread, instead of waiting to be read: a <see cref="ReliableStream"/> over it has no
/// receive pump, so a segment costs one hand-off (into the stream's loop) instead of two, and no copy
/// into an intermediate array. <see cref="ISegmentChannel.ReceiveAsync"/> is then not used.
/// </summary>
internal interface ISegmentPushChannel : ISegmentChannel
{
    /// <summary>
    /// From now on every segment goes to <paramref name="receiver"/>; any that arrived before are handed
    /// over at once (possibly after newer ones: the stream reorders).
    /// </summary>
    void PushTo(ISegmentReceiver receiver);
}

/// <summary>What an <see cref="ISegmentPushChannel"/> hands segments to. Called from any thread; must not block.</summary>
internal interface ISegmentReceiver
{
    /// <summary>A segment arrived; <paramref name="segment"/> is valid only during the call.</summary>
    void OnSegment(ReadOnlySpan<byte> segment);

    /// <summary>The channel is gone for good (the session closed): nothing more will arrive.</summary>
    void OnChannelClosed(Exception reason);
}
