using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// One TCP connection punched to the peer (or accepted from it), carrying the session's datagrams —
/// STUN checks, handshake and sealed frames — each with a 16-bit length in front (RFC 4571, as ICE-TCP
/// frames them, RFC 6544 §3). TCP delivers them in order and without loss, so nothing above it
/// retransmits while it is the data path (docs/tcp-punching.md). Sending may be done from any
/// thread: frames are appended to a buffer that a writer task sends, so that the session's loop, its
/// poller and the reader never block on a full TCP buffer (a stream's sender waits for room instead:
/// TCP's back-pressure, <see cref="SendRaw"/>). The reader hands each frame to its handler on its own thread.
/// </summary>
internal sealed class TcpPeerConnection : IAsyncDisposable
{
    /// <summary>The length prefix in front of each frame.</summary>
    public const int FrameHeaderLength = 2;

    public const int MaxFrame = ushort.MaxValue;

    /// <summary>A stream's sender that waits this long for room means the peer stopped reading: the connection is dead.</summary>
    public static readonly TimeSpan DefaultSendTimeout = TimeSpan.FromSeconds(15);

    private readonly TimeSpan _sendTimeout;

    /// <summary>Bytes not yet handed to TCP beyond which a stream's sender waits (control frames never do).</summary>
    public const int MaxPending = 1024 * 1024;

    private readonly Socket _socket;
    private readonly CancellationTokenSource _stopping = new();
    // Guards _pending and _pendingLength; pulsed when the writer takes them.
    private readonly object _gate = new();
    private byte[] _pending = new byte[16 * 1024];
    private int _pendingLength;
    // What the writer took and has not yet handed to the socket.
    private int _writing;
    private bool _writerSignalled;
    private readonly SemaphoreSlim _writerWake = new(0);
    private readonly Task _writer;
    private Task _reader = Task.CompletedTask;
    private int _closed;

    public TcpPeerConnection(Socket socket, TimeSpan? sendTimeout = null)
    {
        _socket = socket;
        _sendTimeout = sendTimeout ?? DefaultSendTimeout;
        _socket.NoDelay = true; // each frame is a datagram of the session: checks and handshakes must not wait
        Remote = Candidate.Normalize((IPEndPoint)socket.RemoteEndPoint!);
        _writer = Task.Run(WriteAsync);
    }

    /// <summary>The peer's end, normalized (IPv4 as IPv4).</summary>
    public IPEndPoint Remote { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Reads frames until the connection ends: each to <paramref name="onFrame"/>, the end (with why) once to <paramref name="onClosed"/>.</summary>
    public void StartReading(FrameHandler onFrame, Action<TcpPeerConnection, string> onClosed) =>
        _reader = Task.Run(() => ReadAsync(onFrame, onClosed));

    public delegate void FrameHandler(TcpPeerConnection connection, ReadOnlySpan<byte> frame);

    /// <summary>Sends one frame (its length goes in front), as <see cref="SendRaw"/>; false if it was not.</summary>
    public bool Send(ReadOnlySpan<byte> frame, bool waitForRoom = false)
    {
        if (frame.Length > MaxFrame)
        {
            return false;
        }
        Span<byte> buffer = frame.Length <= 4096 ? stackalloc byte[FrameHeaderLength + frame.Length] : new byte[FrameHeaderLength + frame.Length];
        frame.CopyTo(buffer[FrameHeaderLength..]);
        return SendWithRoomInFront(buffer, waitForRoom);
    }

    /// <summary>
    /// Sends the frame that starts <see cref="FrameHeaderLength"/> bytes into <paramref name="buffer"/>,
    /// writing its length into that room, so the frame is not copied.
    /// </summary>
    public bool SendWithRoomInFront(Span<byte> buffer, bool waitForRoom = false)
    {
        BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)(buffer.Length - FrameHeaderLength));
        return SendRaw(buffer, waitForRoom);
    }

    /// <summary>
    /// Queues bytes that are already framed (several frames at once, for a batch). With
    /// <paramref name="waitForRoom"/> (a stream's sender) it first waits while <see cref="MaxPending"/>
    /// bytes wait already, and a wait of the send timeout (<see cref="DefaultSendTimeout"/>) closes the connection: the peer stopped
    /// reading. Without it (the session's loop, the reader) it never waits. False if the connection is closed.
    /// </summary>
    public bool SendRaw(ReadOnlySpan<byte> framed, bool waitForRoom = false)
    {
        lock (_gate)
        {
            long deadline = Environment.TickCount64 + (long)_sendTimeout.TotalMilliseconds;
            while (waitForRoom && _pendingLength + _writing >= MaxPending && !IsClosed)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    Close();
                    break;
                }
                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(left));
            }
            if (IsClosed || (!waitForRoom && _pendingLength + _writing >= 2 * MaxPending))
            {
                return false; // closed, or so far behind that a datagram is dropped as on a full UDP buffer
            }
            if (_pendingLength + framed.Length > _pending.Length)
            {
                Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + framed.Length));
            }
            framed.CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += framed.Length;
            if (_writerSignalled)
            {
                return true;
            }
            _writerSignalled = true;
        }
        _writerWake.Release();
        return true;
    }

    /// <summary>The writer: takes what is queued and sends it, until the connection closes; a failed send closes it.</summary>
    private async Task WriteAsync()
    {
        byte[] sending = new byte[16 * 1024];
        try
        {
            while (true)
            {
                await _writerWake.WaitAsync(_stopping.Token).ConfigureAwait(false);
                int length;
                lock (_gate)
                {
                    (sending, _pending) = (_pending, sending);
                    length = _pendingLength;
                    _writing = length;
                    _pendingLength = 0;
                    _writerSignalled = false;
                }
                int sent = 0;
                while (sent < length)
                {
                    int now = await _socket.SendAsync(sending.AsMemory(sent, length - sent), SocketFlags.None, _stopping.Token).ConfigureAwait(false);
                    sent += now;
                    lock (_gate)
                    {
                        _writing -= now;
                        Monitor.PulseAll(_gate); // room for a stream's sender
                    }
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Part of a frame may be out: what follows could not be framed any more. The connection is done.
            Close();
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
        lock (_gate)
        {
            Monitor.PulseAll(_gate); // senders waiting for room give up
        }
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        await _reader.ConfigureAwait(false);
        await _writer.ConfigureAwait(false);
        _stopping.Dispose();
        _writerWake.Dispose();
    }
}
