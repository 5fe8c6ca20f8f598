using System.Threading.Channels;
using NatPunch.Security;
using NatPunch.Session;
using NatPunch.Streams;

namespace NatPunch.Tests.Session;

/// <summary>
/// One end of an in-memory session for <see cref="StreamMux"/> tests: what it sends arrives at the
/// other end's mux on a pump task of its own (asynchronously, as from a socket), possibly lost.
/// </summary>
public sealed class MemoryMuxHost : IStreamMuxHost, IAsyncDisposable
{
    private readonly Channel<(SessionMessageType Type, byte[] Body)> _wire = Channel.CreateUnbounded<(SessionMessageType, byte[])>();
    private readonly Random _random;
    private readonly object _randomGate = new(); // guards _random
    private readonly Task _pump;
    private readonly TaskCompletionSource<StreamMux> _receiver = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MemoryMuxHost(int seed)
    {
        _random = new Random(seed);
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Of everything sent, this fraction is lost (messages and segments alike).</summary>
    public double LossRate { get; set; }

    /// <summary>Drop what the filter says (the message type and body); on top of <see cref="LossRate"/>.</summary>
    public Func<SessionMessageType, byte[], bool>? Drop { get; set; }

    public int MaxDatagramSize { get; set; } = 1200;

    internal long Sent;

    /// <summary>Two hosts whose sends arrive at each other's mux once <see cref="Deliver"/> names it.</summary>
    public static (MemoryMuxHost A, MemoryMuxHost B) CreatePair(int seed = 1) => (new MemoryMuxHost(seed), new MemoryMuxHost(seed + 1));

    /// <summary>Where this host's sends arrive (the other end's mux); until then they wait.</summary>
    internal void Deliver(StreamMux mux) => _receiver.TrySetResult(mux);

    void IStreamMuxHost.SendSegments(SegmentBatch batch)
    {
        for (int i = 0; i < batch.Count; i++)
        {
            SendMessage(SessionMessageType.Segment, batch[i]);
        }
    }

    public void SendMessage(SessionMessageType type, ReadOnlySpan<byte> body)
    {
        Interlocked.Increment(ref Sent);
        byte[] copy = body.ToArray();
        lock (_randomGate)
        {
            if (_random.NextDouble() < LossRate || Drop?.Invoke(type, copy) == true)
            {
                return;
            }
        }
        _wire.Writer.TryWrite((type, copy));
    }

    private async Task PumpAsync()
    {
        StreamMux mux = await _receiver.Task;
        await foreach ((SessionMessageType type, byte[] body) in _wire.Reader.ReadAllAsync())
        {
            if (type == SessionMessageType.Segment)
            {
                mux.OnSegment(body);
            }
            else
            {
                mux.OnMessage(type, body);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _wire.Writer.TryComplete();
        _receiver.TrySetCanceled();
        try
        {
            await _pump;
        }
        catch (OperationCanceledException)
        {
        }
    }
}
