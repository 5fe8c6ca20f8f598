using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NatPunch.Protocol.Net;

namespace NatPunch.Session;

/// <summary>What a <see cref="LinkPoller"/> hands each datagram to, on its thread; must not block.</summary>
internal interface ILinkDatagramReceiver
{
    /// <summary><paramref name="datagram"/> is valid only during the call.</summary>
    void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from);

    /// <summary><see cref="OnDatagram"/> threw (a bug): the poller reads on, the receiver reports it.</summary>
    void OnFault(Exception error);
}

/// <summary>
/// Linux: a few threads (one per core, at most 4) read the sockets of every link in the process,
/// each waiting with <c>epoll</c> on its share of them and reading a ready socket with one
/// <c>recvmmsg</c> of up to <see cref="BatchSize"/> datagrams, with UDP GRO on so that a run of a
/// peer's datagrams arrives as one buffer, cut here into the datagrams it was. An idle session then costs no thread
/// and no buffer of its own (a thread blocked in <c>recvfrom</c> per link did: its stack and a 64 KiB
/// buffer), and a busy one still has its datagrams opened on the thread that read them, with no
/// hand-off. Elsewhere <see cref="Shared"/> is null and each link reads on a thread of its own.
/// </summary>
internal sealed class LinkPoller
{
    public const int BatchSize = 16;
    private const int WaitMilliseconds = 500;
    private static readonly Lazy<LinkPoller?> s_shared = new(() => LinuxDatagramBatch.IsSupported ? new LinkPoller(Math.Clamp(Environment.ProcessorCount, 1, 4)) : null);

    private readonly Shard[] _shards;
    private int _next;

    private LinkPoller(int shards) => _shards = [.. Enumerable.Range(0, shards).Select(i => new Shard(i))];

    /// <summary>The process's poller, or null where it cannot run (not 64-bit Linux).</summary>
    public static LinkPoller? Shared => s_shared.Value;

    /// <summary>Reads <paramref name="socket"/> for <paramref name="receiver"/> until the registration is disposed (before the socket is closed).</summary>
    public IDisposable Add(Socket socket, ILinkDatagramReceiver receiver) =>
        _shards[(int)((uint)Interlocked.Increment(ref _next) % (uint)_shards.Length)].Add(socket, receiver);

    private sealed class Shard
    {
        private readonly Epoll _epoll = new(64);
        private readonly ConcurrentDictionary<long, (Socket Socket, ILinkDatagramReceiver Receiver)> _links = new();
        // Datagrams are at most 64 KiB; the slots are pinned once for the thread and touched only as far as datagrams fill them.
        private readonly LinuxDatagramBatch _batch = new(BatchSize, 65536);
        private long _nextId;

        public Shard(int number) => DedicatedThread.Start($"natpunch link poller {number}", Run);

        public IDisposable Add(Socket socket, ILinkDatagramReceiver receiver)
        {
            long id = Interlocked.Increment(ref _nextId);
            // Runs of same-size datagrams (a peer's UDP_SEGMENT sends) come as one buffer, cut below.
            LinuxDatagramBatch.TryEnableGro(socket);
            _links[id] = (socket, receiver);
            try
            {
                _epoll.Add(socket, id);
            }
            catch (SocketException)
            {
                _links.TryRemove(id, out _);
                throw;
            }
            return new Registration(this, id, socket);
        }

        private void Remove(long id, Socket socket)
        {
            if (_links.TryRemove(id, out _))
            {
                _epoll.Remove(socket);
            }
        }

        private void Run()
        {
            Span<long> ready = stackalloc long[_epoll.MaxEvents];
            while (true)
            {
                int events = _epoll.Wait(ready, WaitMilliseconds);
                for (int i = 0; i < events; i++)
                {
                    if (_links.TryGetValue(ready[i], out var link))
                    {
                        // One batch per socket and round: level-triggered epoll reports it again if more is queued.
                        Read(link.Socket, link.Receiver);
                    }
                }
            }
        }

        private void Read(Socket socket, ILinkDatagramReceiver receiver)
        {
            SafeHandle handle;
            try
            {
                handle = socket.SafeHandle;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            int count = _batch.ReceiveQueued(handle);
            for (int i = 0; i < count; i++)
            {
                if (RawSocketAddress.ToEndPoint(_batch.Address(i)[.._batch.AddressLength(i)]) is not { } from)
                {
                    continue;
                }
                try
                {
                    Span<byte> received = _batch.Buffer(i)[.._batch.Length(i)];
                    int segmentSize = _batch.GroSegmentSize(i);
                    if (segmentSize <= 0)
                    {
                        receiver.OnDatagram(received, from);
                        continue;
                    }
                    for (int offset = 0; offset < received.Length; offset += segmentSize)
                    {
                        receiver.OnDatagram(received.Slice(offset, Math.Min(segmentSize, received.Length - offset)), from);
                    }
                }
                catch (Exception e) when (e is ObjectDisposedException or SocketException)
                {
                    // The link closed while its datagram was handled: nothing to deliver to.
                }
                catch (Exception e)
                {
                    // A bug in one link must not stop every link's reading: that link hears of it.
                    receiver.OnFault(e);
                }
            }
        }

        private sealed class Registration(Shard shard, long id, Socket socket) : IDisposable
        {
            private int _disposed;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    shard.Remove(id, socket);
                }
            }
        }
    }
}
