using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// One TCP connection punched to the peer (or accepted from it), carrying the session's datagrams —
/// STUN checks, handshake and sealed frames — each with a 16-bit length in front (RFC 4571, as ICE-TCP
/// frames them, RFC 6544 §3). TCP delivers them in order and without loss, so nothing above it
/// retransmits while it is the data path (docs/tcp-punching.md). <see cref="Send"/> may be called
/// from any thread; the reader hands each frame to its handler on its own thread.
/// </summary>
internal sealed class TcpPeerConnection : IAsyncDisposable
{
    /// <summary>The length prefix in front of each frame.</summary>
    public const int FrameHeaderLength = 2;

    public const int MaxFrame = ushort.MaxValue;

    // A send that cannot go on for this long means the peer stopped reading: the connection is dead.
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(15);

    private readonly Socket _socket;
    private readonly object _write = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _reader = Task.CompletedTask;
    private int _closed;

    public TcpPeerConnection(Socket socket)
    {
        _socket = socket;
        _socket.NoDelay = true; // each frame is a datagram of the session: checks and handshakes must not wait
        _socket.SendTimeout = (int)SendTimeout.TotalMilliseconds;
        Remote = Candidate.Normalize((IPEndPoint)socket.RemoteEndPoint!);
    }

    /// <summary>The peer's end, normalized (IPv4 as IPv4).</summary>
    public IPEndPoint Remote { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Reads frames until the connection ends: each to <paramref name="onFrame"/>, the end (with why) once to <paramref name="onClosed"/>.</summary>
    public void StartReading(FrameHandler onFrame, Action<TcpPeerConnection, string> onClosed) =>
        _reader = Task.Run(() => ReadAsync(onFrame, onClosed));

    public delegate void FrameHandler(TcpPeerConnection connection, ReadOnlySpan<byte> frame);

    /// <summary>Sends one frame (its length goes in front); false if the connection is closed or failed, which closes it.</summary>
    public bool Send(ReadOnlySpan<byte> frame)
    {
        if (frame.Length > MaxFrame)
        {
            return false;
        }
        Span<byte> buffer = frame.Length <= 4096 ? stackalloc byte[FrameHeaderLength + frame.Length] : new byte[FrameHeaderLength + frame.Length];
        frame.CopyTo(buffer[FrameHeaderLength..]);
        return SendWithRoomInFront(buffer);
    }

    /// <summary>
    /// Sends the frame that starts <see cref="FrameHeaderLength"/> bytes into <paramref name="buffer"/>,
    /// writing its length into that room, so the frame is not copied.
    /// </summary>
    public bool SendWithRoomInFront(Span<byte> buffer)
    {
        BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)(buffer.Length - FrameHeaderLength));
        return SendRaw(buffer);
    }

    /// <summary>Sends bytes that are already framed (several frames at once, for a batch).</summary>
    public bool SendRaw(ReadOnlySpan<byte> framed)
    {
        if (IsClosed)
        {
            return false;
        }
        try
        {
            lock (_write)
            {
                while (!framed.IsEmpty)
                {
                    framed = framed[_socket.Send(framed, SocketFlags.None)..];
                }
            }
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Part of a frame may be out: what follows could not be framed any more. The connection is done.
            Close();
            return false;
        }
    }

    private async Task ReadAsync(FrameHandler onFrame, Action<TcpPeerConnection, string> onClosed)
    {
        byte[] buffer = new byte[2 * (FrameHeaderLength + MaxFrame)];
        int filled = 0;
        string reason = "the peer closed it";
        try
        {
            while (true)
            {
                int read = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stopping.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                filled += read;
                int consumed = 0;
                while (filled - consumed >= FrameHeaderLength)
                {
                    int length = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(consumed));
                    if (filled - consumed < FrameHeaderLength + length)
                    {
                        break;
                    }
                    onFrame(this, buffer.AsSpan(consumed + FrameHeaderLength, length));
                    consumed += FrameHeaderLength + length;
                }
                if (consumed > 0)
                {
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = "closed";
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            reason = e.Message;
        }
        Close();
        onClosed(this, reason);
    }

    /// <summary>Closes the connection (a reset, so that a dead path frees its NAT state at once); the reader ends.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        try
        {
            _socket.Close(0);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        await _reader.ConfigureAwait(false);
        _stopping.Dispose();
    }
}
