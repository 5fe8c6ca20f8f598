using System.Buffers.Binary;
using System.Runtime.InteropServices;
using NatPunch.Protocol.Net;

namespace NatPunch.Server.Internal;

/// <summary>
/// Datagrams queued for several UDP sockets and sent with one <c>sendmmsg(2)</c> per run of
/// consecutive datagrams on the same socket (Linux, 64-bit). The payloads are copied into one pinned
/// arena, so callers may reuse their buffers at once. Not thread-safe: one owner fills and flushes it.
/// </summary>
internal sealed class LinuxSendBatch
{
    private const int AddressSize = LinuxDatagramBatch.AddressSize;
    private const int IovecSize = 16;
    private const int MmsghdrSize = 64;
    private const int MsgNameLenOffset = 8;
    private const int MsgIovOffset = 16;
    private const int MsgIovLenOffset = 24;
    private const int MsgDontWait = 0x40;

    private readonly byte[] _arena;
    private readonly byte[] _addresses;
    private readonly byte[] _iovecs;
    private readonly byte[] _headers;
    private readonly nint _arenaAddress;
    private readonly nint _headersAddress;
    private readonly SafeHandle?[] _sockets;
    private int _count;
    private int _arenaUsed;

    public LinuxSendBatch(int capacity, int arenaSize)
    {
        Capacity = capacity;
        _arena = GC.AllocateUninitializedArray<byte>(arenaSize, pinned: true);
        _addresses = GC.AllocateArray<byte>(capacity * AddressSize, pinned: true);
        _iovecs = GC.AllocateArray<byte>(capacity * IovecSize, pinned: true);
        _headers = GC.AllocateArray<byte>(capacity * MmsghdrSize, pinned: true);
        _sockets = new SafeHandle?[capacity];
        _arenaAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_arena, 0);
        _headersAddress = Marshal.UnsafeAddrOfPinnedArrayElement(_headers, 0);
        nint addresses = Marshal.UnsafeAddrOfPinnedArrayElement(_addresses, 0);
        nint iovecs = Marshal.UnsafeAddrOfPinnedArrayElement(_iovecs, 0);
        for (int i = 0; i < capacity; i++)
        {
            Span<byte> header = _headers.AsSpan(i * MmsghdrSize, MmsghdrSize);
            BinaryPrimitives.WriteInt64LittleEndian(header, addresses + i * AddressSize);
            BinaryPrimitives.WriteInt64LittleEndian(header[MsgIovOffset..], iovecs + i * IovecSize);
            BinaryPrimitives.WriteInt64LittleEndian(header[MsgIovLenOffset..], 1);
        }
    }

    public int Capacity { get; }

    public int Count => _count;

    /// <summary>Queues a copy of <paramref name="data"/> for <paramref name="address"/> (a raw sockaddr) on <paramref name="socket"/>; false when full.</summary>
    public bool TryAdd(SafeHandle socket, ReadOnlySpan<byte> address, ReadOnlySpan<byte> data)
    {
        if (_count == Capacity || _arena.Length - _arenaUsed < data.Length || address.Length > AddressSize)
        {
            return false;
        }
        int i = _count++;
        data.CopyTo(_arena.AsSpan(_arenaUsed));
        address.CopyTo(_addresses.AsSpan(i * AddressSize));
        Span<byte> iovec = _iovecs.AsSpan(i * IovecSize, IovecSize);
        BinaryPrimitives.WriteInt64LittleEndian(iovec, _arenaAddress + _arenaUsed);
        BinaryPrimitives.WriteInt64LittleEndian(iovec[8..], data.Length);
        BinaryPrimitives.WriteInt32LittleEndian(_headers.AsSpan(i * MmsghdrSize + MsgNameLenOffset), address.Length);
        _sockets[i] = socket;
        // Keep the next payload 8-byte aligned.
        _arenaUsed += (data.Length + 7) & ~7;
        return true;
    }

    /// <summary>
    /// Sends everything queued, never blocking (a full socket buffer drops, as a failed send of one
    /// datagram always did); returns how many datagrams could not be sent. Empties the batch.
    /// </summary>
    public int Flush()
    {
        int failed = 0;
        int first = 0;
        while (first < _count)
        {
            SafeHandle socket = _sockets[first]!;
            int end = first + 1;
            while (end < _count && ReferenceEquals(_sockets[end], socket))
            {
                end++;
            }
            failed += SendRun(socket, first, end);
            first = end;
        }
        Array.Clear(_sockets, 0, _count);
        _count = 0;
        _arenaUsed = 0;
        return failed;
    }

    private int SendRun(SafeHandle socket, int first, int end)
    {
        bool added = false;
        try
        {
            // The descriptor cannot be closed (and its number reused) during the call.
            socket.DangerousAddRef(ref added);
            int fd = (int)socket.DangerousGetHandle();
            int failed = 0;
            while (first < end)
            {
                int sent = sendmmsg(fd, _headersAddress + first * MmsghdrSize, (uint)(end - first), MsgDontWait);
                if (sent <= 0)
                {
                    // The first datagram failed (ICMP error, full buffer): drop it and go on.
                    failed++;
                    first++;
                    continue;
                }
                first += sent;
            }
            return failed;
        }
        catch (ObjectDisposedException)
        {
            return end - first;
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
    private static extern int sendmmsg(int sockfd, nint msgvec, uint vlen, int flags);
}
