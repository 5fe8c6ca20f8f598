using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NatPunch.Protocol.Net;

/// <summary>
/// Sends one UDP datagram with its own IPv4 time to live (an <c>IP_TTL</c> control message to
/// <c>sendmsg(2)</c>, ip(7)), leaving the socket's TTL for every other datagram as it is: a socket
/// that others send on at the same moment is not disturbed. Also for a dual-stack socket sending to an
/// IPv4-mapped address. Linux only.
/// </summary>
internal static class LinuxTtlSender
{
    private const int SolIp = 0;
    private const int IpTtl = 2;
    private const int MsghdrSize = 56;
    private const int IovecSize = 16;
    private const int ControlSize = 24;       // CMSG_SPACE(sizeof(int))
    private const int ControlLength = 20;     // CMSG_LEN(sizeof(int))
    private const int NameSize = 28;

    public static bool Supported => OperatingSystem.IsLinux();

    public static SocketError Send(Socket socket, IPEndPoint to, ReadOnlySpan<byte> datagram, int ttl)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, 255);
        SocketAddress destination = to.Serialize();
        byte[] buffer = GC.AllocateArray<byte>(MsghdrSize + IovecSize + ControlSize + NameSize + datagram.Length, pinned: true);
        nint address = Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0);
        const int iovec = MsghdrSize, control = iovec + IovecSize, name = control + ControlSize, data = name + NameSize;
        int nameLength = Math.Min(destination.Size, NameSize);
        destination.Buffer.Span[..nameLength].CopyTo(buffer.AsSpan(name));
        datagram.CopyTo(buffer.AsSpan(data));
        Span<byte> header = buffer.AsSpan(0, MsghdrSize);
        WriteNative(header, address + name);                                      // msg_name
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], nameLength);         // msg_namelen
        WriteNative(header[16..], address + iovec);                               // msg_iov
        WriteNative(header[24..], 1);                                             // msg_iovlen
        WriteNative(header[32..], address + control);                             // msg_control
        WriteNative(header[40..], ControlSize);                                   // msg_controllen
        WriteNative(buffer.AsSpan(iovec), address + data);
        WriteNative(buffer.AsSpan(iovec + 8), datagram.Length);
        WriteNative(buffer.AsSpan(control), ControlLength);                       // cmsg_len
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(control + 8), SolIp);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(control + 12), IpTtl);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(control + 16), ttl);

        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return sendmsg((int)handle.DangerousGetHandle(), address, 0) >= 0
                ? SocketError.Success
                : LinuxErrno.ToSocketError(Marshal.GetLastPInvokeError());
        }
        catch (ObjectDisposedException)
        {
            return SocketError.OperationAborted;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static void WriteNative(Span<byte> destination, nint value) => BinaryPrimitives.WriteInt64LittleEndian(destination, value);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern long sendmsg(int sockfd, nint msg, int flags);
}
