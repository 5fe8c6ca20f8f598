using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NatPunch.Protocol.Net;

/// <summary>
/// A Linux epoll set of sockets, each registered under a number of the caller's (never the
/// descriptor: a descriptor reused after a close must not be taken for the old socket), waited on
/// level-triggered for input. Used by the server's relay poller and the client's link poller.
/// The kernel removes a closed descriptor from the set by itself.
/// </summary>
internal sealed class Epoll : IDisposable
{
    private const uint EpollIn = 0x001;
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int EpollCloexec = 0x80000;

    // struct epoll_event { uint32_t events; uint64_t data; }: packed on x86-64 (12 bytes), naturally aligned elsewhere (16).
    private static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = EventSize - 8;

    private readonly int _descriptor;
    private readonly byte[] _events;
    private readonly nint _eventsAddress;
    private int _closed;

    public Epoll(int maxEvents)
    {
        _descriptor = epoll_create1(EpollCloexec);
        if (_descriptor < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }
        MaxEvents = maxEvents;
        _events = GC.AllocateArray<byte>(maxEvents * 16, pinned: true);
        _eventsAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_events, 0);
    }

    public int MaxEvents { get; }

    /// <summary>Waits for input on <paramref name="socket"/>, reported under <paramref name="id"/>.</summary>
    public void Add(Socket socket, long id) => Add((int)socket.SafeHandle.DangerousGetHandle(), id);

    /// <summary>Waits for input on the descriptor <paramref name="descriptor"/> (an eventfd, say), reported under <paramref name="id"/>.</summary>
    public void Add(int descriptor, long id)
    {
        Span<byte> epollEvent = stackalloc byte[16];
        epollEvent.Clear();
        BitConverter.TryWriteBytes(epollEvent, EpollIn);
        BitConverter.TryWriteBytes(epollEvent[DataOffset..], id);
        if (epoll_ctl(_descriptor, EpollCtlAdd, descriptor, ref MemoryMarshal.GetReference(epollEvent)) < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Stops waiting on <paramref name="socket"/> (call before closing it; a closed socket is gone from the set anyway).</summary>
    public void Remove(Socket socket)
    {
        bool added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            Span<byte> unused = stackalloc byte[16];
            _ = epoll_ctl(_descriptor, EpollCtlDel, (int)socket.SafeHandle.DangerousGetHandle(), ref MemoryMarshal.GetReference(unused));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/>; the ids of the sockets with input go into <paramref name="ready"/>. Returns how many (0 on a timeout or an interruption).</summary>
    public int Wait(Span<long> ready, int timeoutMilliseconds)
    {
        int events = epoll_wait(_descriptor, _eventsAddress, Math.Min(MaxEvents, ready.Length), timeoutMilliseconds);
        for (int i = 0; i < events; i++)
        {
            ready[i] = BitConverter.ToInt64(_events, i * EventSize + DataOffset);
        }
        return Math.Max(events, 0);
    }

    /// <summary>Closes the set; only once nothing waits on it any more.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _ = close(_descriptor);
        }
    }

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int epoll_create1(int flags);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int epoll_ctl(int epfd, int op, int fd, ref byte epollEvent);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int epoll_wait(int epfd, nint events, int maxevents, int timeout);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int close(int fd);
}
