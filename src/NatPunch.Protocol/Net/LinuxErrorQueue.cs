using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NatPunch.Protocol.Net;

/// <summary>
/// An ICMP error about a datagram the socket sent, as Linux queues it with <c>IP_RECVERR</c> (ip(7)):
/// where the datagram was going, the ICMP type and code, and which router or host sent the error.
/// </summary>
internal readonly record struct QueuedIcmpError(IPEndPoint OriginalDestination, byte Type, byte Code, IPAddress? Sender)
{
    public const byte DestinationUnreachable = 3;
    public const byte PortUnreachable = 3;
    public const byte TimeExceeded = 11;

    public bool IsTimeExceeded => Type == TimeExceeded;

    public bool IsPortUnreachable => Type == DestinationUnreachable && Code == PortUnreachable;
}

/// <summary>
/// Reads an IPv4 UDP socket's error queue (<c>recvmsg(MSG_ERRQUEUE)</c>): the ICMP errors that its
/// datagrams caused, each with the original destination and the sender of the error, which is how a
/// traceroute learns the routers on a path. Linux only; the socket must be <see cref="Enable"/>d first.
/// </summary>
internal static class LinuxErrorQueue
{
    private const int SolIp = 0;
    private const int IpRecvErr = 11;
    private const int MsgErrQueue = 0x2000;
    private const int MsgDontWait = 0x40;
    private const byte OriginIcmp = 2;
    private const int NameSize = 28;
    private const int PayloadSize = 256;
    private const int ControlSize = 256;

    public static bool Supported => OperatingSystem.IsLinux();

    /// <summary>Asks the kernel to queue ICMP errors on <paramref name="socket"/> (an IPv4 socket).</summary>
    /// <remarks>A raw option: .NET maps <see cref="SocketOptionName"/> values as Windows numbers them, where 11 is another option.</remarks>
    public static void Enable(Socket socket) => socket.SetRawSocketOption(SolIp, IpRecvErr, BitConverter.GetBytes(1));

    /// <summary>
    /// Takes the next entry of the queue, if there is one (never blocks): true if one was taken, with
    /// <paramref name="error"/> null when it was not an ICMP error (a local one).
    /// </summary>
    public static bool TryRead(Socket socket, out QueuedIcmpError? error)
    {
        error = null;
        const int iovec = LinuxMessageHeader.Size, name = iovec + LinuxMessageHeader.IovecSize, payload = name + NameSize, control = payload + PayloadSize;
        byte[] buffer = GC.AllocateArray<byte>(control + ControlSize, pinned: true);
        nint address = Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0);
        LinuxMessageHeader.Write(buffer, address + name, NameSize, buffer.AsSpan(iovec), address + iovec, address + payload, PayloadSize,
            address + control, ControlSize);

        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (recvmsg((int)handle.DangerousGetHandle(), address, MsgErrQueue | MsgDontWait) < 0)
            {
                return false; // EAGAIN: the queue is empty
            }
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        (int nameLength, int controlLength) = LinuxMessageHeader.ReadLengths(buffer);
        IPEndPoint? destination = RawSocketAddress.ToEndPoint(buffer.AsSpan(name, Math.Clamp(nameLength, 0, NameSize)));
        ReadOnlySpan<byte> controls = buffer.AsSpan(control, Math.Clamp(controlLength, 0, ControlSize));
        // struct cmsghdr { size_t len; int level; int type; } then the data, 8-aligned.
        while (controls.Length >= LinuxMessageHeader.ControlHeaderSize)
        {
            int length = (int)BinaryPrimitives.ReadInt64LittleEndian(controls);
            if (length < LinuxMessageHeader.ControlHeaderSize || length > controls.Length)
            {
                break;
            }
            int level = BinaryPrimitives.ReadInt32LittleEndian(controls[8..]);
            int type = BinaryPrimitives.ReadInt32LittleEndian(controls[12..]);
            ReadOnlySpan<byte> data = controls[LinuxMessageHeader.ControlHeaderSize..length];
            // struct sock_extended_err { u32 errno; u8 origin, type, code, pad; u32 info, data; } then the offender's sockaddr.
            if (level == SolIp && type == IpRecvErr && data.Length >= 16 && data[4] == OriginIcmp && destination is not null)
            {
                IPEndPoint? offender = RawSocketAddress.ToEndPoint(data[16..]);
                error = new QueuedIcmpError(destination, data[5], data[6], offender?.Address);
                return true;
            }
            controls = controls[Math.Min(controls.Length, (length + 7) & ~7)..];
        }
        return true;
    }

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern long recvmsg(int sockfd, nint msg, int flags);
}
