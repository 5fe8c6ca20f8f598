using System.Net;
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

    private readonly Socket _socket;
    private readonly RendezvousLoop _loop;
    private readonly Channel<byte[]> _outbox = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(256)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });

    public RendezvousConnection(Socket socket, RendezvousLoop loop)
    {
        _socket = socket;
        _loop = loop;
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
        _loop.Post(new RendezvousLoop.Event.Opened(this));
        Task writer = WriteLoopAsync(cancellationToken);
        string reason = "connection closed";
        try
        {
            reason = await ReadLoopAsync(initial, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            reason = e.Message;
        }
        finally
        {
            _loop.Post(new RendezvousLoop.Event.Closed(Id, reason));
            _outbox.Writer.TryComplete();
            await writer.ConfigureAwait(false);
            _socket.Dispose();
        }
    }

    private async Task<string> ReadLoopAsync(ReadOnlyMemory<byte> initial, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[RendezvousFrame.HeaderLength + RendezvousFrame.MaxPayloadLength];
        initial.CopyTo(buffer);
        int filled = initial.Length;
        while (true)
        {
            int consumed = 0;
            while (true)
            {
                RendezvousFrame.Status status = RendezvousFrame.TryRead(buffer.AsSpan(consumed, filled - consumed), out ReadOnlySpan<byte> payload, out int frameLength);
                if (status == RendezvousFrame.Status.Invalid)
                {
                    _loop.Post(new RendezvousLoop.Event.Malformed(Id, "bad frame header"));
                    return "bad frame header";
                }
                if (status == RendezvousFrame.Status.Incomplete)
                {
                    break;
                }
                if (RendezvousCodec.TryDecode(payload, out RendezvousMessage message, out string error))
                {
                    _loop.Post(new RendezvousLoop.Event.MessageReceived(Id, message));
                }
                else
                {
                    _loop.Post(new RendezvousLoop.Event.Malformed(Id, error));
                }
                consumed += frameLength;
            }
            buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
            filled -= consumed;
            int read = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return "closed by the client";
            }
            filled += read;
        }
    }

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (byte[] frame in _outbox.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await _socket.SendAsync(frame, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            // Outbox completed: the loop wants this connection closed once everything is sent.
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        _socket.Close();
    }
}
