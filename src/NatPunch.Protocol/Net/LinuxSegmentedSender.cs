using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NatPunch.Protocol.Net;

/// <summary>
/// Linux UDP generic segmentation offload (<c>UDP_SEGMENT</c>, udp(7)): one <c>sendmsg(2)</c> hands
/// the kernel up to <see cref="MaxSegments"/> datagrams of one size laid end to end, and they travel
/// the stack (and veths, bridges and NAT) as one packet, cut into datagrams only where a device needs
/// it. The per-packet cost that dominates a UDP transfer is then paid once per group. A receiver with
/// <c>UDP_GRO</c> on gets the group back as one buffer (<see cref="LinuxDatagramBatch.GroSegmentSize"/>).
/// One instance per thread: the buffers are pinned once and reused.
/// </summary>
internal sealed class LinuxSegmentedSender
{
    /// <summary>Datagrams per call: the kernel's UDP_MAX_SEGMENTS is 64 on older kernels, 128 on newer.</summary>
    public const int MaxSegments = 64;

    /// <summary>Bytes per call: what one IPv4 UDP datagram can carry, which the group must fit.</summary>
    public const int MaxBytes = 65507;

    private const int SolUdp = 17;
    private const int UdpSegment = 103;
    private const int MsghdrSize = LinuxMessageHeader.Size;
    private const int IovecSize = LinuxMessageHeader.IovecSize;
    private const int ControlSize = 24;       // CMSG_SPACE(sizeof(uint16_t))

    private readonly byte[] _data = GC.AllocateUninitializedArray<byte>(MaxBytes, pinned: true);
    private readonly byte[] _native = GC.AllocateArray<byte>(MsghdrSize + IovecSize + ControlSize + LinuxDatagramBatch.AddressSize, pinned: true);
    private readonly nint _dataAddress;
    private readonly nint _nativeAddress;

    public LinuxSegmentedSender()
    {
        _dataAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_data, 0);
        _nativeAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_native, 0);
    }

    /// <summary>The last <see cref="Send"/> of a run failed because the kernel refused to segment it: send datagram by datagram from then on.</summary>
    public bool RefusedSegmentation { get; private set; }

    /// <summary>Where the caller lays out the datagrams to send, end to end.</summary>
    public Span<byte> Data => _data;

    /// <summary>
    /// Sends <c>Data[offset .. offset + length]</c> to <paramref name="to"/>: as datagrams of
    /// <paramref name="segmentSize"/> bytes (the last may be shorter), or as one datagram when
    /// <paramref name="segmentSize"/> is 0 or not less than <paramref name="length"/>.
    /// </summary>
    public SocketError Send(SafeHandle socket, SocketAddress to, int offset, int length, int segmentSize)
    {
        RefusedSegmentation = false;
        Span<byte> native = _native;
        Span<byte> control = native.Slice(MsghdrSize + IovecSize, ControlSize);
        Span<byte> address = native.Slice(MsghdrSize + IovecSize + ControlSize, LinuxDatagramBatch.AddressSize);
        int addressLength = Math.Min(to.Size, address.Length);
        to.Buffer.Span[..addressLength].CopyTo(address);
        bool segmented = segmentSize > 0 && segmentSize < length;
        LinuxMessageHeader.Write(native, _nativeAddress + MsghdrSize + IovecSize + ControlSize, addressLength,
            native.Slice(MsghdrSize, IovecSize), _nativeAddress + MsghdrSize, _dataAddress + offset, length,
            segmented ? _nativeAddress + MsghdrSize + IovecSize : 0, segmented ? ControlSize : 0);
        if (segmented)
        {
            control.Clear();
            LinuxMessageHeader.WriteControl(control, SolUdp, UdpSegment, sizeof(ushort));
            BinaryPrimitives.WriteUInt16LittleEndian(control[LinuxMessageHeader.ControlHeaderSize..], (ushort)segmentSize);
        }
        bool added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            long sent = sendmsg((int)socket.DangerousGetHandle(), _nativeAddress, 0);
            if (sent >= 0)
            {
                return SocketError.Success;
            }
            int errno = Marshal.GetLastPInvokeError();
            // The path cannot segment: no checksum offload on the way out, an old kernel, an unsupported option.
            RefusedSegmentation = segmented
                && errno is LinuxErrno.EIO or LinuxErrno.EINVAL or LinuxErrno.ENOPROTOOPT or LinuxErrno.EOPNOTSUPP;
            return LinuxErrno.ToSocketError(errno);
        }
        catch (ObjectDisposedException)
        {
            return SocketError.OperationAborted;
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern long sendmsg(int sockfd, nint msg, int flags);
}
