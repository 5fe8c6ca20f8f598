using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NatPunch.Server.Internal;

/// <summary>
/// Non-blocking <c>send(2)</c> on a TCP socket, optionally ending a record with <c>MSG_EOR</c>
/// (Linux): the kernel then starts the next send in a new buffer, so the segments it builds end
/// where the record ends. Without it, a send may be appended to the kernel's last unsent buffer,
/// which is cut wherever it fills up.
/// </summary>
/// <remarks>
/// The TURN service writes whole messages, so its segments then end on message boundaries. That
/// matters to a client that consumes only whole messages (coturn's <c>turnutils_uclient</c> peeks
/// at the length, then reads one message): on loopback, a segment ending inside a message left the
/// message's head unread in a buffer the kernel charged in full, the client's receive window
/// stayed closed, and the rest of the message could never come.
/// </remarks>
internal static class TcpRecordSender
{
    private const int MsgDontWait = 0x40;
    private const int MsgEor = 0x80;
    private const int MsgNoSignal = 0x4000;
    private const int EAgain = 11;

    /// <summary>
    /// Sends what the socket takes now; the count, or -1 with <paramref name="error"/> set. With
    /// <paramref name="endOfRecord"/>, the record ends after <paramref name="data"/> if all of it was taken.
    /// </summary>
    public static int Send(Socket socket, ReadOnlySpan<byte> data, bool endOfRecord, out SocketError error)
    {
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            nint sent = send((int)handle.DangerousGetHandle(), ref MemoryMarshal.GetReference(data), data.Length,
                MsgDontWait | MsgNoSignal | (endOfRecord ? MsgEor : 0));
            if (sent >= 0)
            {
                error = SocketError.Success;
                return (int)sent;
            }
            int errno = Marshal.GetLastPInvokeError();
            error = errno == EAgain ? SocketError.WouldBlock : SocketError.SocketError;
            return -1;
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted;
            return -1;
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
    private static extern nint send(int sockfd, ref byte buf, nint len, int flags);
}
