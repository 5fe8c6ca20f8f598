using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NatPunch.Protocol.Net;

/// <summary>
/// A Linux eventfd (non-blocking): another thread's <see cref="Signal"/> wakes a thread waiting in
/// <see cref="Epoll.Wait"/> on it, which then <see cref="Drain"/>s it. The link poller uses it when a
/// link's timer is set, from another thread, for earlier than the poller sleeps.
/// </summary>
internal sealed class LinuxEventFd : IDisposable
{
    private const int EfdCloexec = 0x80000;
    private const int EfdNonblock = 0x800;
    private int _closed;

    public LinuxEventFd()
    {
        Descriptor = eventfd(0, EfdCloexec | EfdNonblock);
        if (Descriptor < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }
    }

    public int Descriptor { get; }

    /// <summary>Makes the descriptor readable (adds one to its counter).</summary>
    public void Signal()
    {
        ulong one = 1;
        _ = write(Descriptor, ref one, 8);
    }

    /// <summary>Reads the counter back to zero, so that the descriptor is no longer readable.</summary>
    public void Drain()
    {
        ulong value = 0;
        _ = read(Descriptor, ref value, 8);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _ = close(Descriptor);
        }
    }

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int eventfd(uint initval, int flags);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern nint write(int fd, ref ulong value, nint count);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern nint read(int fd, ref ulong value, nint count);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int close(int fd);
}
