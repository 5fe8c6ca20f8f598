using System.Net.Sockets;
using NatPunch.Streams;

namespace NatPunch.Forwarding;

/// <summary>
/// Copies a TCP connection and a stream into each other until both directions have ended: an end
/// of input on one side is an end of stream (half-close) on the other, and a reset or error on one
/// side resets the other, with the reason, so neither side takes a cut connection for a finished one.
/// </summary>
public static class TcpStreamBridge
{
    private const int BufferSize = 32 * 1024;

    /// <summary>How a bridged connection ended: bytes each way, and why it failed if it did (null: both directions ended cleanly).</summary>
    public sealed record Result(long BytesToPeer, long BytesFromPeer, string? Error);

    /// <param name="socketName">What the socket is in a reason ("the client", "the target").</param>
    public static async Task<Result> RunAsync(Socket socket, ReliableStream stream, string socketName, CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long toPeer = 0, fromPeer = 0;
        string? error = null;
        void Fail(string reason)
        {
            Interlocked.CompareExchange(ref error, reason, null);
            failed.Cancel();
        }

        Task upload = Task.Run(async () =>
        {
            byte[] buffer = new byte[BufferSize];
            int read;
            try
            {
                while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, failed.Token).ConfigureAwait(false)) > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, read), failed.Token).ConfigureAwait(false);
                    Interlocked.Add(ref toPeer, read);
                }
                await stream.CompleteWritesAsync(failed.Token).ConfigureAwait(false);
            }
            catch (SocketException e) when (!failed.IsCancellationRequested)
            {
                string reason = $"{socketName}'s connection failed: {e.Message}";
                ForwardingHandshake.Abort(stream, reason);
                Fail(reason);
            }
            catch (IOException e) when (!failed.IsCancellationRequested)
            {
                Fail(e.Message); // the stream failed while writing
            }
            catch (Exception e) when (failed.IsCancellationRequested || e is ObjectDisposedException)
            {
                // The other direction failed and ended this one.
            }
        }, CancellationToken.None);

        Task download = Task.Run(async () =>
        {
            byte[] buffer = new byte[BufferSize];
            int read;
            try
            {
                while ((read = await stream.ReadAsync(buffer, failed.Token).ConfigureAwait(false)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, failed.Token).ConfigureAwait(false);
                    Interlocked.Add(ref fromPeer, read);
                }
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException e) when (!failed.IsCancellationRequested)
            {
                string reason = $"{socketName}'s connection failed: {e.Message}";
                ForwardingHandshake.Abort(stream, reason);
                Fail(reason);
            }
            catch (IOException e) when (!failed.IsCancellationRequested)
            {
                // The peer reset the stream, or the session ended: cut the TCP connection too (RST, not FIN).
                Fail(e.Message);
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
            catch (Exception e) when (failed.IsCancellationRequested || e is ObjectDisposedException)
            {
                // The other direction failed and ended this one.
            }
        }, CancellationToken.None);

        await Task.WhenAll(upload, download).ConfigureAwait(false);
        if (error is null && cancellationToken.IsCancellationRequested)
        {
            error = "interrupted";
            ForwardingHandshake.Abort(stream, error);
        }
        return new Result(Interlocked.Read(ref toPeer), Interlocked.Read(ref fromPeer), error);
    }
}
