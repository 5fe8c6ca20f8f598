using System.Net.Sockets;

namespace NatPunch.Protocol.Net;

/// <summary>The Linux errno values our raw socket calls (recvmmsg, sendmmsg, sendmsg) can fail with, as .NET names them.</summary>
internal static class LinuxErrno
{
    public const int EIO = 5;
    public const int EINVAL = 22;
    public const int ENOPROTOOPT = 92;
    public const int EOPNOTSUPP = 95;

    public static SocketError ToSocketError(int errno) => errno switch
    {
        11 => SocketError.WouldBlock,              // EAGAIN: nothing queued, a full buffer, or the receive timeout passed
        4 => SocketError.Interrupted,              // EINTR
        111 => SocketError.ConnectionRefused,      // ECONNREFUSED: an ICMP error from an earlier send
        113 => SocketError.HostUnreachable,        // EHOSTUNREACH
        101 => SocketError.NetworkUnreachable,     // ENETUNREACH
        105 => SocketError.NoBufferSpaceAvailable, // ENOBUFS
        90 => SocketError.MessageSize,             // EMSGSIZE
        9 => SocketError.OperationAborted,         // EBADF: closed
        EINVAL => SocketError.InvalidArgument,
        ENOPROTOOPT => SocketError.ProtocolOption,
        EOPNOTSUPP => SocketError.OperationNotSupported,
        _ => SocketError.SocketError,              // EIO and the rest
    };
}
