using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using NatPunch.Security;

namespace NatPunch.Session;

/// <summary>
/// Pings over the sealed data path (<c>natpunch ping</c>): a probe id out, the same id back at once,
/// timed by the sender. Answered on the receiving thread, so the time is the path's and the peer's
/// receive path's, not its loop's.
/// </summary>
internal sealed partial class PeerLink
{
    private const int PingIdLength = 8;

    // Probes awaiting their pong, by id; each completes once, with the time it came back.
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<TimeSpan>> _pings = new();

    /// <summary>Sends one ping on the data path and returns the round-trip time when its pong arrives.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken)
    {
        ulong id = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(PingIdLength));
        var pong = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pings[id] = pong;
        try
        {
            Span<byte> body = stackalloc byte[PingIdLength];
            BinaryPrimitives.WriteUInt64BigEndian(body, id);
            TimeSpan sent = Now;
            SendMessage(SessionMessageType.Ping, body);
            TimeSpan answered = await pong.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return answered - sent;
        }
        finally
        {
            _pings.TryRemove(id, out _);
        }
    }

    /// <summary>A ping is answered at once; a pong completes its probe. Anything else is dropped.</summary>
    private void OnPing(SessionMessageType type, ReadOnlySpan<byte> body)
    {
        if (body.Length != PingIdLength)
        {
            return;
        }
        if (type == SessionMessageType.Ping)
        {
            SendMessage(SessionMessageType.Pong, body);
        }
        else if (_pings.TryGetValue(BinaryPrimitives.ReadUInt64BigEndian(body), out var pong))
        {
            pong.TrySetResult(Now);
        }
    }
}
