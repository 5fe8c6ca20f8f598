using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NatPunch.Protocol.Net;
using NatPunch.Server.Internal;

namespace NatPunch.Server.Turn;

/// <summary>
/// Linux: one dedicated thread waits with <c>epoll</c> on every relay socket of a
/// <see cref="TurnService"/>; for each epoll round the service takes its lock once, reads every
/// ready socket with one non-blocking <c>recvmmsg</c> (up to <see cref="BatchSize"/> datagrams) and
/// sends what goes to clients with one <c>sendmmsg</c> at the end. This replaces one async receive per datagram per relay socket (an epoll
/// round in the runtime and a thread-pool hop each), which cost most of the relay's CPU.
/// </summary>
/// <remarks>
/// Registrations are keyed by a number, never by the descriptor, so a descriptor reused after a
/// close is never mistaken for the old socket; the socket's <see cref="SafeHandle"/> is referenced
/// while it is read, so it cannot be closed (and its number reused) under a <c>recvmmsg</c>.
/// The kernel removes a closed descriptor from the epoll set by itself.
/// </remarks>
internal sealed class RelayPoller : IDisposable
{
    public const int BatchSize = 32;
    private const int MaxEvents = 64;
    private const int WaitMilliseconds = 250;

    private readonly TurnService _owner;
    private readonly Epoll _epoll = new(MaxEvents);
    private readonly ConcurrentDictionary<long, UdpRelaySocket> _sockets = new();
    private readonly LinuxDatagramBatch _batch = new(BatchSize, 65536);
    private long _nextId;
    private volatile bool _stopping;
    // Back-pressure for TCP clients: a round that read a full batch from some socket left more
    // queued there; until a round reads none full, readers of client TCP input may wait.
    private bool _fullBatchThisRound;
    private TaskCompletionSource _caughtUp = CompletedCaughtUp();

    /// <summary>True where the poller can run (64-bit Linux with recvmmsg and epoll).</summary>
    public static bool IsSupported => LinuxDatagramBatch.IsSupported;

    public RelayPoller(TurnService owner)
    {
        _owner = owner;
        DedicatedThread.Start("TURN relay", Run);
    }

    /// <summary>Starts reading <paramref name="relay"/>'s socket; returns its registration number.</summary>
    public long Add(UdpRelaySocket relay, Socket socket)
    {
        long id = Interlocked.Increment(ref _nextId);
        socket.Blocking = false;
        _sockets[id] = relay;
        try
        {
            _epoll.Add(socket, id);
        }
        catch (SocketException)
        {
            _sockets.TryRemove(id, out _);
            throw;
        }
        return id;
    }

    /// <summary>Stops reading a relay socket (before it is closed).</summary>
    public void Remove(long id, Socket socket)
    {
        if (_sockets.TryRemove(id, out _))
        {
            _epoll.Remove(socket);
        }
    }

    private void Run()
    {
        try
        {
            Poll();
        }
        finally
        {
            _epoll.Dispose();
        }
    }

    private void Poll()
    {
        var ready = new UdpRelaySocket[MaxEvents];
        Span<long> ids = stackalloc long[MaxEvents];
        while (!_stopping)
        {
            int events = _epoll.Wait(ids, WaitMilliseconds);
            if (events == 0)
            {
                continue; // timeout, EINTR, or closed while stopping
            }
            int count = 0;
            for (int i = 0; i < events; i++)
            {
                long id = ids[i];
                if (_sockets.TryGetValue(id, out UdpRelaySocket? relay))
                {
                    ready[count++] = relay;
                }
            }
            try
            {
                // One recvmmsg per ready socket and round: level-triggered epoll reports a socket
                // with more queued again, and every socket gets its turn.
                _owner.HandleFromPeers(ready.AsSpan(0, count), this);
            }
            catch (Exception e)
            {
                _owner.OnRelayFault(e);
            }
            Array.Clear(ready, 0, count);
            NoteRoundEnd();
        }
    }

    /// <summary>How long a reader of client input waits at most for the relay to catch up: a soft brake, never a stop.</summary>
    internal static readonly TimeSpan MaxBackPressureWait = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Completes at once unless the last round left datagrams queued on a relay socket; then when
    /// a round has read everything, or after <see cref="MaxBackPressureWait"/>. A TCP client's
    /// reader awaits it before reading more, so that under overload the client's own TCP flow
    /// control holds it back, instead of the echoes of what it sent overflowing the relay sockets.
    /// </summary>
    internal Task WhenCaughtUpAsync()
    {
        Task caughtUp = Volatile.Read(ref _caughtUp).Task;
        return caughtUp.IsCompleted ? Task.CompletedTask : Task.WhenAny(caughtUp, Task.Delay(MaxBackPressureWait));
    }

    private void NoteRoundEnd()
    {
        bool behind = _fullBatchThisRound;
        _fullBatchThisRound = false;
        TaskCompletionSource current = Volatile.Read(ref _caughtUp);
        if (behind && current.Task.IsCompleted)
        {
            Volatile.Write(ref _caughtUp, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
        else if (!behind)
        {
            current.TrySetResult();
        }
    }

    private static TaskCompletionSource CompletedCaughtUp()
    {
        var completed = new TaskCompletionSource();
        completed.SetResult();
        return completed;
    }

    /// <summary>Where <see cref="Receive"/> puts the datagrams.</summary>
    internal LinuxDatagramBatch Batch => _batch;

    /// <summary>Reads what is queued on <paramref name="relay"/> (up to a batch) into <see cref="Batch"/>, without waiting; 0 when nothing.</summary>
    internal int Receive(UdpRelaySocket relay)
    {
        int count = _batch.ReceiveQueued(relay.Handle);
        _fullBatchThisRound |= count == BatchSize;
        return count;
    }

    public void Dispose()
    {
        // The thread notices within WaitMilliseconds and closes the epoll descriptor itself.
        _stopping = true;
    }
}
