using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;

namespace NatPunch.Server.Internal;

/// <summary>
/// One client's TCP connection to the rendezvous service: a reader that turns frames into
/// events for the <see cref="RendezvousLoop"/>, and an outbox drained by a writer, so a slow
/// client never blocks the loop.
/// </summary>
internal sealed class RendezvousConnection
{
    private static long s_nextId;

    private const int InitialReadSize = 2048;

    private readonly Socket _socket;
    // The socket's bytes, or TLS over it.
    private readonly Stream _stream;
    private readonly RendezvousLoop _loop;
    private readonly TimeSpan _messageTimeout;
    private CancellationToken _stopping;
    private readonly Channel<byte[]> _outbox = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(256)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });

    /// <param name="messageTimeout">How long a frame that has begun may take to arrive whole (<see cref="NatPunchServerOptions.TcpMessageTimeout"/>).</param>
    /// <param name="tls">The TLS stream over <paramref name="socket"/>, or null for plain TCP.</param>
    public RendezvousConnection(Socket socket, Stream? tls, RendezvousLoop loop, TimeSpan messageTimeout)
    {
        _socket = socket;
        _stream = tls ?? new NetworkStream(socket, ownsSocket: false);
        _loop = loop;
        _messageTimeout = messageTimeout;
        Id = Interlocked.Increment(ref s_nextId);
        Remote = (IPEndPoint)socket.RemoteEndPoint!;
    }

    public long Id { get; }

    public IPEndPoint Remote { get; }

    public void Enqueue(RendezvousMessage message)
    {
        if (!_outbox.Writer.TryWrite(RendezvousCodec.Encode(message)))
        {
            // A client that doesn't read 256 messages is stuck; let it go.
            CloseAfterPending();
        }
    }

    public void CloseAfterPending() => _outbox.Writer.TryComplete();

    /// <summary>Runs until the connection ends; <paramref name="initial"/> holds bytes already read by the dispatcher.</summary>
    public async Task RunAsync(ReadOnlyMemory<byte> initial, CancellationToken cancellationToken)
    {
        _stopping = cancellationToken;
        if (!await PostAsync(new RendezvousLoop.Event.Opened(this)).ConfigureAwait(false))
        {
            _socket.Dispose();
            return;
        }
        Task writer = WriteLoopAsync(cancellationToken);
        string reason = "connection closed";
        try
        {
            reason = await ReadLoopAsync(initial, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            reason = e.Message;
        }
        finally
        {
            await PostAsync(new RendezvousLoop.Event.Closed(Id, reason)).ConfigureAwait(false);
            _outbox.Writer.TryComplete();
            await writer.ConfigureAwait(false);
            _socket.Dispose();
        }
    }

    private async Task<string> ReadLoopAsync(ReadOnlyMemory<byte> initial, CancellationToken cancellationToken)
    {
        // Grows to the frame being read, up to the limit: an idle connection holds 2 KiB.
        byte[] buffer = new byte[Math.Max(InitialReadSize, initial.Length)];
        initial.CopyTo(buffer);
        int filled = initial.Length;
        int maxFrame = RendezvousFrame.HeaderLength + _loop.MaxFrameLength;
        long partialSince = 0;
        while (true)
        {
            int consumed = 0;
            while (true)
            {
                RendezvousFrame.Status status = RendezvousFrame.TryRead(buffer.AsSpan(consumed, filled - consumed), out ReadOnlySpan<byte> payload, out int frameLength);
                if (status == RendezvousFrame.Status.Invalid)
                {
                    return await RefuseAsync("bad frame header").ConfigureAwait(false);
                }
                if (status == RendezvousFrame.Status.Incomplete)
                {
                    break;
                }
                if (RendezvousCodec.TryDecode(payload, out RendezvousMessage message, out string error))
                {
                    // Waits while the loop is behind: the reader stops, and TCP slows the client down.
                    await PostAsync(new RendezvousLoop.Event.MessageReceived(Id, message)).ConfigureAwait(false);
                }
                else
                {
                    await PostAsync(new RendezvousLoop.Event.Malformed(Id, error)).ConfigureAwait(false);
                }
                consumed += frameLength;
            }
            buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
            filled -= consumed;
            if (filled >= RendezvousFrame.HeaderLength)
            {
                int frame = RendezvousFrame.HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2));
                if (frame > maxFrame)
                {
                    string tooLarge = $"a frame of {frame - RendezvousFrame.HeaderLength} bytes is over this server's limit of {_loop.MaxFrameLength}";
                    _loop.Refused(ServerRefusal.RendezvousFrameTooLarge, Remote, tooLarge);
                    return await RefuseAsync(tooLarge).ConfigureAwait(false);
                }
                if (frame > buffer.Length)
                {
                    Array.Resize(ref buffer, frame);
                }
            }
            long now = Environment.TickCount64;
            partialSince = filled == 0 ? 0 : consumed > 0 || partialSince == 0 ? now : partialSince;
            using CancellationTokenSource? deadline = filled == 0 ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (deadline is not null)
            {
                TimeSpan left = _messageTimeout - TimeSpan.FromMilliseconds(now - partialSince);
                if (left <= TimeSpan.Zero)
                {
                    return SlowFrame();
                }
                deadline.CancelAfter(left);
            }
            int read;
            try
            {
                read = await _stream.ReadAsync(buffer.AsMemory(filled), deadline?.Token ?? cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return SlowFrame();
            }
            if (read == 0)
            {
                return "closed by the client";
            }
            filled += read;
        }
    }

    /// <summary>
    /// Stops reading and lets the loop answer with the error and close (the outbox completes), so the
    /// client learns why; ending the connection at once would lose that answer.
    /// </summary>
    private async Task<string> RefuseAsync(string reason)
    {
        await PostAsync(new RendezvousLoop.Event.Malformed(Id, reason)).ConfigureAwait(false);
        await Task.WhenAny(_outbox.Reader.Completion, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        return reason;
    }

    /// <summary>Hands an event to the loop, waiting while its queue is full; false once the server stops.</summary>
    private async ValueTask<bool> PostAsync(RendezvousLoop.Event e)
    {
        try
        {
            await _loop.PostAsync(e, _stopping).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            return false;
        }
    }

    private string SlowFrame()
    {
        string reason = $"a frame was not complete within {_messageTimeout.TotalSeconds:0} s";
        _loop.Refused(ServerRefusal.TcpSlowMessage, Remote, reason);
        return reason;
    }

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (byte[] frame in _outbox.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            }
            // Outbox completed: the loop wants this connection closed once everything is sent.
            if (_stream is SslStream tls)
            {
                await tls.ShutdownAsync().ConfigureAwait(false); // close_notify: the client sees an orderly end
            }
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
        _socket.Close();
    }
}
