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
    private const int ControlSize = 24;       // CMSG_SPACE(sizeof(int))
    private const int NameSize = 28;

    public static bool Supported => OperatingSystem.IsLinux();

    public static SocketError Send(Socket socket, IPEndPoint to, ReadOnlySpan<byte> datagram, int ttl)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, 255);
        SocketAddress destination = to.Serialize();
        const int iovec = LinuxMessageHeader.Size, control = iovec + LinuxMessageHeader.IovecSize, name = control + ControlSize, data = name + NameSize;
        byte[] buffer = GC.AllocateArray<byte>(data + datagram.Length, pinned: true);
        nint address = Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0);
        int nameLength = Math.Min(destination.Size, NameSize);
        destination.Buffer.Span[..nameLength].CopyTo(buffer.AsSpan(name));
        datagram.CopyTo(buffer.AsSpan(data));
        LinuxMessageHeader.Write(buffer, address + name, nameLength, buffer.AsSpan(iovec), address + iovec, address + data, datagram.Length,
            address + control, ControlSize);
        LinuxMessageHeader.WriteControl(buffer.AsSpan(control), SolIp, IpTtl, sizeof(int));
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(control + LinuxMessageHeader.ControlHeaderSize), ttl);

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

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern long sendmsg(int sockfd, nint msg, int flags);
}
