using System.Buffers.Binary;

namespace NatPunch.Protocol.Net;

/// <summary>
/// Lays out a 64-bit Linux <c>struct msghdr</c> with one <c>struct iovec</c> for <c>sendmsg</c> and
/// <c>recvmsg</c> into memory the caller has pinned.
/// </summary>
internal static class LinuxMessageHeader
{
    public const int Size = 56;
    public const int IovecSize = 16;
    /// <summary><c>struct cmsghdr</c>: length, level, type; the data follows, 8-aligned.</summary>
    public const int ControlHeaderSize = 16;

    /// <summary>The header at <paramref name="header"/>, and the one iovec at <paramref name="iovec"/> (address <paramref name="iovecAddress"/>).</summary>
    public static void Write(Span<byte> header, nint name, int nameLength, Span<byte> iovec, nint iovecAddress, nint data, int dataLength,
        nint control, int controlLength)
    {
        header[..Size].Clear();
        WriteNative(header, name);                                           // msg_name
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], nameLength);    // msg_namelen
        WriteNative(header[16..], iovecAddress);                             // msg_iov
        WriteNative(header[24..], 1);                                        // msg_iovlen
        WriteNative(header[32..], control);                                  // msg_control
        WriteNative(header[40..], controlLength);                            // msg_controllen
        WriteNative(iovec, data);                                            // iov_base
        WriteNative(iovec[8..], dataLength);                                 // iov_len
    }

    /// <summary>A control message's header for <paramref name="dataLength"/> bytes of data.</summary>
    public static void WriteControl(Span<byte> control, int level, int type, int dataLength)
    {
        WriteNative(control, ControlHeaderSize + dataLength);                // cmsg_len
        BinaryPrimitives.WriteInt32LittleEndian(control[8..], level);
        BinaryPrimitives.WriteInt32LittleEndian(control[12..], type);
    }

    /// <summary>msg_namelen and msg_controllen as the kernel left them after <c>recvmsg</c>.</summary>
    public static (int NameLength, int ControlLength) ReadLengths(ReadOnlySpan<byte> header) =>
        (BinaryPrimitives.ReadInt32LittleEndian(header[8..]), (int)Math.Min(BinaryPrimitives.ReadInt64LittleEndian(header[40..]), int.MaxValue));

    private static void WriteNative(Span<byte> destination, nint value) => BinaryPrimitives.WriteInt64LittleEndian(destination, value);
}
