using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NatPunch.Protocol.Net;

/// <summary>
/// A vector of datagrams for Linux <c>recvmmsg(2)</c>/<c>sendmmsg(2)</c>: many datagrams per system
/// call instead of one. Everything lives in pinned arrays (no unsafe code): per slot a 64 KiB
/// buffer (no datagram is ever truncated), a sockaddr, an iovec and an <c>mmsghdr</c>, laid out
/// as on 64-bit Linux (x64, arm64).
/// </summary>
internal sealed class LinuxDatagramBatch
{
    public const int AddressSize = 32;       // sockaddr_in6 is 28 bytes

    private const int IovecSize = 16;        // void* iov_base; size_t iov_len
    private const int MmsghdrSize = 64;      // msghdr (56) + unsigned msg_len + padding
    private const int MsgNameLenOffset = 8;
    private const int MsgIovOffset = 16;
    private const int MsgIovLenOffset = 24;
    private const int MsgControlOffset = 32;
    private const int MsgControlLenOffset = 40;
    private const int ControlSize = 32;      // room for one cmsg with an int (CMSG_SPACE(4) = 24)
    private const int SolUdp = 17;
    private const int UdpGro = 104;
    private const int MsgFlagsOffset = 48;
    private const int MsgLenOffset = 56;
    private const int MsgWaitForOne = 0x10000;
    private const int MsgDontWait = 0x40;

    private readonly byte[] _buffers;
    private readonly byte[] _addresses;
    private readonly byte[] _iovecs;
    private readonly byte[] _headers;
    private readonly byte[] _controls;
    private readonly nint _buffersAddress;
    private readonly nint _addressesAddress;
    private readonly nint _iovecsAddress;
    private readonly nint _headersAddress;

    /// <summary>True on 64-bit Linux where libc has recvmmsg/sendmmsg (probed once with a harmless call).</summary>
    public static bool IsSupported { get; } = Probe();

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            return false;
        }
        try
        {
            // An invalid descriptor: fails with EBADF, but proves the entry point loads.
            _ = sendmmsg(-1, 0, 0, 0);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    public LinuxDatagramBatch(int capacity, int slotBufferSize)
    {
        Capacity = capacity;
        SlotBufferSize = slotBufferSize;
        _buffers = GC.AllocateUninitializedArray<byte>(capacity * slotBufferSize, pinned: true);
        _addresses = GC.AllocateArray<byte>(capacity * AddressSize, pinned: true);
        _iovecs = GC.AllocateArray<byte>(capacity * IovecSize, pinned: true);
        _headers = GC.AllocateArray<byte>(capacity * MmsghdrSize, pinned: true);
        _controls = GC.AllocateArray<byte>(capacity * ControlSize, pinned: true);
        nint controlsAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_controls, 0);
        _buffersAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_buffers, 0);
        _addressesAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_addresses, 0);
        _iovecsAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_iovecs, 0);
        _headersAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_headers, 0);
        for (int i = 0; i < capacity; i++)
        {
            Span<byte> header = _headers.AsSpan(i * MmsghdrSize, MmsghdrSize);
            WriteNative(header, _addressesAddress + i * AddressSize);
            WriteNative(header[MsgIovOffset..], _iovecsAddress + i * IovecSize);
            WriteNative(header[MsgIovLenOffset..], 1);
            WriteNative(header[MsgControlOffset..], controlsAddress + i * ControlSize);
            WriteNative(_iovecs.AsSpan(i * IovecSize), _buffersAddress + (nint)i * SlotBufferSize);
        }
    }

    public int Capacity { get; }

    public int SlotBufferSize { get; }

    /// <summary>The bytes of slot <paramref name="index"/>: a received datagram, or a response to send.</summary>
    public Span<byte> Buffer(int index) => _buffers.AsSpan(index * SlotBufferSize, SlotBufferSize);

    /// <summary>The raw sockaddr of slot <paramref name="index"/>: where it came from, or where to send it.</summary>
    public Span<byte> Address(int index) => _addresses.AsSpan(index * AddressSize, AddressSize);

    /// <summary>Bytes of the sockaddr the kernel wrote for slot <paramref name="index"/>.</summary>
    public int AddressLength(int index) => BinaryPrimitives.ReadInt32LittleEndian(_headers.AsSpan(index * MmsghdrSize + MsgNameLenOffset));

    public int Length(int index) => BinaryPrimitives.ReadInt32LittleEndian(_headers.AsSpan(index * MmsghdrSize + MsgLenOffset));

    /// <summary>
    /// The size of the datagrams that the kernel coalesced into slot <paramref name="index"/> (a
    /// socket with <c>UDP_GRO</c> on, udp(7)), or 0 when the slot holds one datagram as sent.
    /// </summary>
    public int GroSegmentSize(int index)
    {
        long controlLength = BinaryPrimitives.ReadInt64LittleEndian(_headers.AsSpan(index * MmsghdrSize + MsgControlLenOffset));
        ReadOnlySpan<byte> control = _controls.AsSpan(index * ControlSize, (int)Math.Min(controlLength, ControlSize));
        // cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then the data (8-byte aligned).
        while (control.Length >= 20)
        {
            int length = (int)BinaryPrimitives.ReadInt64LittleEndian(control);
            if (length < 16)
            {
                break;
            }
            if (BinaryPrimitives.ReadInt32LittleEndian(control[8..]) == SolUdp && BinaryPrimitives.ReadInt32LittleEndian(control[12..]) == UdpGro)
            {
                return BinaryPrimitives.ReadInt32LittleEndian(control[16..]);
            }
            int next = (length + 7) & ~7;
            if (next >= control.Length)
            {
                break;
            }
            control = control[next..];
        }
        return 0;
    }

    /// <summary>
    /// Asks the kernel to hand <paramref name="socket"/> runs of same-size datagrams of one flow as one
    /// buffer (<c>UDP_GRO</c>); the reader then cuts them at <see cref="GroSegmentSize"/>. False where the kernel has no UDP GRO.
    /// </summary>
    public static bool TryEnableGro(Socket socket)
    {
        try
        {
            socket.SetRawSocketOption(SolUdp, UdpGro, BitConverter.GetBytes(1));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Blocks until at least one datagram is there (or the socket's receive timeout passes), then
    /// takes as many as are queued, up to <see cref="Capacity"/>. Returns the count, or -1 with an error.
    /// </summary>
    public int Receive(SafeHandle socket, out SocketError error)
    {
        for (int i = 0; i < Capacity; i++)
        {
            PrepareSlot(i, SlotBufferSize, AddressSize, ControlSize);
        }
        int count = recvmmsg((int)socket.DangerousGetHandle(), _headersAddress, (uint)Capacity, MsgWaitForOne, 0);
        error = count < 0 ? LinuxErrno.ToSocketError(Marshal.GetLastPInvokeError()) : SocketError.Success;
        return count;
    }

    /// <summary>
    /// Takes the datagrams already queued, up to <see cref="Capacity"/>, without waiting
    /// (MSG_DONTWAIT). Returns the count, or -1 with an error (<see cref="SocketError.WouldBlock"/>: none).
    /// </summary>
    public int ReceiveNonBlocking(SafeHandle socket, out SocketError error)
    {
        for (int i = 0; i < Capacity; i++)
        {
            PrepareSlot(i, SlotBufferSize, AddressSize, ControlSize);
        }
        int count = recvmmsg((int)socket.DangerousGetHandle(), _headersAddress, (uint)Capacity, MsgDontWait, 0);
        error = count < 0 ? LinuxErrno.ToSocketError(Marshal.GetLastPInvokeError()) : SocketError.Success;
        return count;
    }

    /// <summary>
    /// Reads what is queued on <paramref name="socket"/> (up to <see cref="Capacity"/>) without waiting,
    /// holding a reference on the handle so that it cannot be closed, and its number reused, under the
    /// call. Returns 0 when nothing is queued or the socket is closed. An ICMP error from an earlier send
    /// (ECONNREFUSED) concerns one peer, not the socket: read on past it.
    /// </summary>
    public int ReceiveQueued(SafeHandle socket)
    {
        bool added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            for (int attempt = 0; attempt < 4; attempt++)
            {
                int count = ReceiveNonBlocking(socket, out SocketError error);
                if (count > 0)
                {
                    return count;
                }
                if (error != SocketError.ConnectionRefused)
                {
                    return 0; // EAGAIN: nothing; anything else: give up for now
                }
            }
            return 0;
        }
        catch (ObjectDisposedException)
        {
            return 0; // closed since it was reported ready
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>Sets slot <paramref name="index"/> to send <paramref name="length"/> bytes to its address.</summary>
    public void PrepareSend(int index, int length, int addressLength) => PrepareSlot(index, length, addressLength, controlLength: 0);

    /// <summary>Sends slots <paramref name="first"/>.. in one call; returns how many went, or -1 with the error of the first.</summary>
    public int Send(SafeHandle socket, int first, int count, out SocketError error)
    {
        int sent = sendmmsg((int)socket.DangerousGetHandle(), _headersAddress + first * MmsghdrSize, (uint)count, 0);
        error = sent < 0 ? LinuxErrno.ToSocketError(Marshal.GetLastPInvokeError()) : SocketError.Success;
        return sent;
    }

    // A receive offers room for control messages (UDP_GRO's segment size); a send carries none.
    private void PrepareSlot(int index, int length, int addressLength, int controlLength)
    {
        Span<byte> header = _headers.AsSpan(index * MmsghdrSize, MmsghdrSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[MsgNameLenOffset..], addressLength);
        BinaryPrimitives.WriteInt32LittleEndian(header[MsgFlagsOffset..], 0);
        WriteNative(header[MsgControlLenOffset..], controlLength);
        WriteNative(_iovecs.AsSpan(index * IovecSize + 8), length);
    }

    private static void WriteNative(Span<byte> destination, nint value) => BinaryPrimitives.WriteInt64LittleEndian(destination, value);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int recvmmsg(int sockfd, nint msgvec, uint vlen, int flags, nint timeout);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int sendmmsg(int sockfd, nint msgvec, uint vlen, int flags);
}
